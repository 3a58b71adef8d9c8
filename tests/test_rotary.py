"""Rotary positions: the rotation against complex multiplication, the relative-offset property,
and rotary attention through every kernel against the masked dense oracle."""

from __future__ import annotations

import pytest
import torch

from spark_edu.attention import masks
from spark_edu.attention.blocks import BlockLayout
from spark_edu.attention.layer import BlockSparseSelfAttention
from spark_edu.attention.multihead import MultiHeadSelfAttention
from spark_edu.attention.rotary import rotary_angles, rotate
from spark_edu.transformer import Transformer, TransformerConfig


def test_rotation_is_multiplication_by_a_unit_complex_number():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64)
    angles = rotary_angles(7, 8)
    pairs = torch.view_as_complex(x.reshape(2, 3, 7, 4, 2).contiguous())  # x_{2m} + i x_{2m+1}
    expected = torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).flatten(-2)
    torch.testing.assert_close(rotate(x, angles), expected)
    assert torch.allclose(rotate(x, angles).norm(dim=-1), x.norm(dim=-1))  # a rotation keeps the norm


def test_angles_follow_the_roformer_frequencies():
    angles = rotary_angles(5, 6, base=100.0)
    theta = torch.tensor([1.0, 100 ** (-2 / 6), 100 ** (-4 / 6)], dtype=torch.float64)
    torch.testing.assert_close(angles, torch.arange(5.0, dtype=torch.float64)[:, None] * theta)


def test_rotated_scores_depend_only_on_the_offset():
    torch.manual_seed(1)
    q, k = torch.randn(16), torch.randn(16)
    angles = rotary_angles(40, 16)
    qs, ks = rotate(q.expand(40, 16), angles), rotate(k.expand(40, 16), angles)  # the same q, k at every position
    scores = qs @ ks.T  # (40, 40)
    for offset in (-9, 0, 3, 17):
        diagonal = torch.diagonal(scores, offset)
        torch.testing.assert_close(diagonal, diagonal[0].expand_as(diagonal))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rotary_angles(4, 7), "head_dim must be even"),
        (lambda: rotary_angles(0, 8), "length"),
        (lambda: rotary_angles(4, 8, base=1.0), "base must be > 1"),
        (lambda: rotate(torch.zeros(3, 8), rotary_angles(4, 8)), "x must end in"),
        (lambda: MultiHeadSelfAttention(12, 4, rotary=True), "even head width"),
        (lambda: TransformerConfig(positions="alibi"), "positions must be one of"),
    ],
)
def test_bad_input_is_refused_with_its_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rotary_transformer_has_no_position_embedding_and_sees_no_absolute_position():
    config = TransformerConfig(vocab_size=8, d_model=16, n_heads=2, n_layers=2, max_len=20, positions="rotary")
    torch.manual_seed(0)
    model = Transformer(config).double().eval()
    assert model.pos_emb is None and all(block.attn.rotary for block in model.blocks)
    h = model(torch.full((1, 12), 3))  # the same token everywhere: no position can be told apart
    torch.testing.assert_close(h, h[:, :1].expand_as(h))
    learned = Transformer(TransformerConfig(vocab_size=8, d_model=16, n_heads=2, max_len=20)).double().eval()
    h = learned(torch.full((1, 12), 3))
    assert not torch.allclose(h, h[:, :1].expand_as(h))  # learned absolute positions do tell them apart


@pytest.mark.parametrize("length", [37, 64])
def test_rotary_block_sparse_layer_agrees_with_the_masked_dense_oracle(length):
    torch.manual_seed(2)
    tiles = masks.random_block_layout(-(-length // 8), 0.5, seed=0, band=0)
    tiles[2] = False  # a query tile with no kept key tile: its rows are fully masked
    predicate = masks.block_sparse(tiles, 8)
    layout = BlockLayout.from_predicate(predicate, length, length, 8)
    sparse = BlockSparseSelfAttention(32, 4, layout, rotary=True).double()
    dense = MultiHeadSelfAttention(32, 4, rotary=True, reference=True).double()
    dense.load_state_dict(sparse.state_dict())
    x = torch.randn(2, length, 32, dtype=torch.float64, requires_grad=True)
    mask = masks.dense_mask(predicate, length)
    y_sparse, y_dense = sparse(x), dense(x, mask)
    assert torch.isfinite(y_sparse).all() and torch.isfinite(y_dense).all()
    torch.testing.assert_close(y_sparse, y_dense)
    for grad_sparse, grad_dense in zip(
        torch.autograd.grad(y_sparse.square().sum(), [x, *sparse.parameters()]),
        torch.autograd.grad(y_dense.square().sum(), [x, *dense.parameters()]),
    ):
        torch.testing.assert_close(grad_sparse, grad_dense)
