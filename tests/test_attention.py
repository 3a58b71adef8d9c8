"""The dense attention reference against PyTorch's fused kernel, masks, and bad input."""

import pytest
import torch
import torch.nn.functional as F

from spark_edu.attention import and_masks, attention, causal, dense_mask, full, or_masks
from spark_edu.transformer import MultiHeadSelfAttention


@pytest.mark.parametrize("shape", [(5, 8), (2, 7, 8), (2, 3, 33, 16)])
@pytest.mark.parametrize("masking", ["none", "causal", "random"])
def test_matches_sdpa(shape, masking):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(*shape, generator=g) for _ in range(3))
    T = shape[-2]
    mask = None
    if masking == "causal":
        mask = dense_mask(causal, T)
    elif masking == "random":
        mask = (torch.rand(T, T, generator=g) < 0.5) | torch.eye(T, dtype=torch.bool)
    ours, weights = attention(q, k, v, mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(weights.sum(-1), torch.ones(shape[:-1]))


def test_cross_attention_shapes_and_values():
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(3, 4, generator=g), torch.randn(6, 4, generator=g), torch.randn(6, 5, generator=g)
    out, w = attention(q, k, v)
    assert out.shape == (3, 5) and w.shape == (3, 6)
    expected = torch.softmax(q @ k.T / 2.0, dim=-1) @ v  # √4 = 2, written out independently
    torch.testing.assert_close(out, expected)


def test_gradients_match_sdpa():
    g = torch.Generator().manual_seed(2)
    tensors = [torch.randn(2, 9, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    mask = dense_mask(causal, 9)
    assert torch.autograd.gradcheck(lambda q, k, v: attention(q, k, v, mask)[0], tensors)
    ours = torch.autograd.grad(attention(*tensors, mask)[0].sum(), tensors)
    theirs = torch.autograd.grad(F.scaled_dot_product_attention(*tensors, attn_mask=mask).sum(), tensors)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


def test_fully_masked_row_is_zero_not_nan():
    q = torch.randn(4, 3)
    mask = dense_mask(causal, 4)
    mask[1] = False
    out, w = attention(q, q, q, mask)
    assert torch.equal(out[1], torch.zeros(3)) and torch.equal(w[1], torch.zeros(4))
    assert torch.isfinite(out).all()


def test_mask_predicates_and_composition():
    T = 6
    c = dense_mask(causal, T)
    assert torch.equal(c, torch.ones(T, T, dtype=torch.bool).tril())
    assert dense_mask(full, T, 3).all() and dense_mask(full, T, 3).shape == (T, 3)

    def diagonal(b, h, q_idx, kv_idx):
        return q_idx == kv_idx

    assert torch.equal(dense_mask(and_masks(causal, diagonal), T), torch.eye(T, dtype=torch.bool))
    assert torch.equal(dense_mask(or_masks(causal, diagonal), T), c)
    assert and_masks(causal, diagonal).__name__ == "causal_and_diagonal"


def test_mha_reference_and_fast_path_agree():
    fast = MultiHeadSelfAttention(32, 4, causal=True)
    ref = MultiHeadSelfAttention(32, 4, causal=True, reference=True)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(2, 11, 32)
    torch.testing.assert_close(fast(x), ref(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda q: attention(q, q[:, :2], q), "head dim"),
        (lambda q: attention(q, q, q, torch.ones(3, 5, dtype=torch.bool)), "mask must end in"),
        (lambda q: attention(q, q, q, torch.ones(5, 5)), "bool"),
        (lambda q: attention(q.clone().fill_(float("nan")), q, q), "NaN"),
        (lambda q: attention(q, q, q[:4]), "shapes"),
        (lambda q: attention(q[0], q[0], q[0]), "dimensions"),
        (lambda q: attention(q, q, q, torch.ones(2, 5, 5, dtype=torch.bool)[None].expand(3, 2, 5, 5)), "broadcast"),
        (lambda q: dense_mask(causal, 0), "q_len"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(torch.randn(5, 4))
