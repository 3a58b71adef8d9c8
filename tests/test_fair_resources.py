"""The fair resource row: models, tasks and FLOPs.

Masks and the long-range task are checked element by element against brute-force counts, the
FLOPs against a hand count.
"""

from __future__ import annotations

import pytest
import torch

from spark_edu.attention.blocks import BlockLayout
from spark_edu.chapters.sparse_attention.fair_flops import elements, step_flops, tile_elements
from spark_edu.chapters.sparse_attention.fair_resources import (
    MODELS,
    TASKS,
    FairConfig,
    MaskedSelfAttention,
    band_mask,
    build_model,
    lag,
    needed_key_coverage,
    sparse_layout,
    task_config,
)
from spark_edu.transformer import count_parameters

TINY = FairConfig(length=64, block_size=4)
ODD = FairConfig(length=70, block_size=4)  # 70 is not a multiple of the tile size


def _tile_band(config: FairConfig) -> torch.Tensor:
    i = torch.arange(config.length)
    return (i[:, None] // config.block_size - i[None, :] // config.block_size).abs() <= config.band


@pytest.mark.parametrize("config", [TINY, ODD], ids=["T64", "T70"])
def test_dense_local_mask_is_the_sparse_layouts_band(config):
    band, sparse = band_mask(config), sparse_layout(config).dense()
    assert torch.equal(band, _tile_band(config))
    assert torch.equal(band, sparse & _tile_band(config))  # the sparse layout keeps every band tile
    assert int(sparse.sum()) > int(band.sum())  # and random tiles beyond it
    local = build_model("dense_local", config, 0)
    assert all(torch.equal(block.attn.mask, band) for block in local.blocks)


def test_models_share_parameter_count_and_initial_weights():
    models = [build_model(name, TINY, seed=3) for name in MODELS]
    assert len({count_parameters(m) for m in models}) == 1
    states = [m.state_dict() for m in models]
    assert all(torch.equal(states[0][k], s[k]) for s in states[1:] for k in states[0])
    tokens = torch.randint(0, TINY.vocab_size, (2, TINY.length))
    assert all(m(tokens).shape == (2, TINY.length, TINY.vocab_size) for m in models)


@pytest.mark.parametrize("config", [TINY, ODD, FairConfig()], ids=["T64", "T70", "T1024"])
def test_long_range_needed_key_is_outside_the_band_and_coverage_matches_a_brute_force_count(config):
    band, sparse = band_mask(config).float(), sparse_layout(config).dense()
    relay = (band @ band) > 0  # what n_layers = 2 band layers can carry to a query
    for task in TASKS:
        shift = lag(task, config)
        i = torch.arange(shift, config.length)
        needed = (i, i - shift)
        kept, in_band = sparse[needed], band.bool()[needed]
        if task == "local":
            assert bool(in_band.all())
        else:
            assert not bool(in_band.any()) and not bool(relay[needed].any())
        coverage = needed_key_coverage(config, task)
        n = len(i)
        assert coverage["queries"] == n and coverage["lag"] == shift
        assert coverage["in_band"] == int(in_band.sum()) / n
        assert coverage["random_tile"] == int((kept & ~in_band).sum()) / n
        assert coverage["dropped"] == int((~kept).sum()) / n
        two = ((sparse.float() @ sparse.float()) > 0)[needed]
        assert coverage["two_layers"] == int(two.sum()) / n
    assert lag("long_range", FairConfig()) == 48 and lag("local", FairConfig()) == 8


def test_flops_against_a_hand_count():
    tiles = torch.tensor([[1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=torch.bool)  # 10 positions, tiles of 4
    mask = tiles.repeat_interleave(4, 0).repeat_interleave(4, 1)[:10, :10]
    assert tile_elements(BlockLayout.from_mask(mask, 4)) == 4 * 4 + 4 * 2 + 4 * 4 + 2 * 2  # = 44
    config = FairConfig(length=8, block_size=4, sparsity=0.25)  # D = 16, H = 4, 2 layers, C = 64, V = 16
    dense = step_flops("dense", config, batch=2)
    assert dense["attention"] == 3 * 4 * 16 * 64 * 4 * 2 * 2
    assert dense["linear"] == 3 * 2 * 2 * 8 * (2 * (4 * 64 * 64 + 2 * 64 * 256) + 64 * 16)
    assert dense["total"] == dense["attention"] + dense["linear"]
    assert elements("dense_local", TINY) == (64 * 64, int(band_mask(TINY).sum()))
    kept = int(sparse_layout(ODD).dense().sum())
    assert elements("sparse", ODD) == (kept, kept)
    assert step_flops("dense_local", TINY, 2)["total"] == step_flops("dense", TINY, 2)["total"]


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: FairConfig(band=-1), "band"),
        (lambda: FairConfig(sparsity=1.0), "sparsity"),
        (lambda: build_model("nope", TINY, 0), "name"),
        (lambda: lag("nope", TINY), "task"),
        (lambda: task_config("long_range", FairConfig(length=40, block_size=16), 1), "lag"),
        (lambda: step_flops("sparse", TINY, 0), "batch"),
        (lambda: MaskedSelfAttention(64, 4, torch.ones(4, 4)), "mask"),
    ],
)
def test_bad_arguments_name_themselves(call, name):
    with pytest.raises(ValueError, match=name):
        call()
