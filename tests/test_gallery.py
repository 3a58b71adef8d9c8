"""The modern mask gallery (document, prefix-LM, BigBird) and the tile-granularity table."""

import numpy as np
import pytest

from spark_edu.attention import gallery, masks
from spark_edu.chapters.sparse_attention.granularity import BLOCK_SIZES, gallery_patterns, tile_granularity


def brute(rule, length):
    return np.array([[bool(rule(i, j)) for j in range(length)] for i in range(length)])


def test_document_mask_keeps_exactly_the_pairs_of_one_document():
    lengths = [3, 1, 5, 2]
    doc = np.repeat(np.arange(len(lengths)), lengths)
    mask = masks.dense_mask(gallery.document(lengths), sum(lengths)).numpy()
    assert (mask == brute(lambda i, j: doc[i] == doc[j], sum(lengths))).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_document_lengths_partition_the_sequence(seed):
    lengths = gallery.random_document_lengths(100, 7, seed)
    assert len(lengths) == 7 and sum(lengths) == 100 and min(lengths) >= 1
    assert gallery.random_document_lengths(5, 5) == [1, 1, 1, 1, 1]


def test_prefix_lm_is_bidirectional_in_the_prefix_and_causal_after():
    mask = masks.dense_mask(gallery.prefix_lm(4), 11).numpy()
    assert (mask == brute(lambda i, j: j < 4 or j <= i, 11)).all()
    assert (masks.dense_mask(gallery.prefix_lm(0), 11) == masks.dense_mask(masks.causal, 11)).all()


def test_bigbird_layout_has_its_band_globals_and_random_blocks():
    n, g, w, r = 12, 1, 1, 2
    layout = gallery.bigbird_layout(n, g, w, r, seed=5).numpy()
    structured = brute(lambda i, j: abs(i - j) <= w or i < g or j < g, n)
    assert (layout >= structured).all()  # every structured block is kept
    extra = (layout & ~structured).sum(axis=1)
    free = (~structured).sum(axis=1)
    assert (extra == np.minimum(r, free)).all()  # exactly r random blocks where r are free
    length = n * 8 - 3  # the last block is partial
    predicate = gallery.bigbird(length, block_size=8, n_global=g, window=w, n_random=r, seed=5)
    element = masks.dense_mask(predicate, length).numpy()
    assert (element == np.kron(layout, np.ones((8, 8), bool))[:length, :length]).all()


def test_gallery_rejects_bad_arguments():
    for bad in ([], [3, 0], "abc", 5):
        with pytest.raises(ValueError, match="lengths"):
            gallery.document(bad)
    with pytest.raises(ValueError, match="n_documents"):
        gallery.random_document_lengths(3, 4)
    with pytest.raises(ValueError, match="prefix"):
        gallery.prefix_lm(-1)
    with pytest.raises(ValueError, match="block_size"):
        gallery.bigbird(64, block_size=0)


def test_tile_granularity_matches_numpy_and_never_gains_from_bigger_tiles():
    length = 512  # the block-random pattern needs >= 4 tiles of 128
    rows = tile_granularity(length, BLOCK_SIZES)
    patterns = {r.pattern for r in rows}
    assert len(rows) == len(patterns) * len(BLOCK_SIZES)
    by_pattern: dict[str, list] = {}
    for row in rows:
        by_pattern.setdefault(row.pattern, []).append(row)
    for name, predicate in gallery_patterns(length).items():
        mask = masks.dense_mask(predicate, length).numpy()
        for row in by_pattern[name]:
            b = row.block_size
            n = -(-length // b)
            padded = np.zeros((n * b, n * b), bool)
            padded[:length, :length] = mask
            empty = ~padded.reshape(n, b, n, b).any(axis=(1, 3))
            assert row.block_sparsity == pytest.approx(empty.mean(), abs=1e-6)
            assert row.element_sparsity == pytest.approx(1 - mask.mean(), abs=1e-6)
        sparsities = [r.block_sparsity for r in sorted(by_pattern[name], key=lambda r: r.block_size)]
        assert all(a >= b - 1e-9 for a, b in zip(sparsities, sparsities[1:])), name  # nested tiles
