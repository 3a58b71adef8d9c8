"""FK attention's fused series path (``_series_heads``) against the reference ``fk_attention``."""

import pytest
import torch

from spark_edu.fk_attention import FKAttention, fk_attention


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]
VARIANTS = [(True, False, True), (False, True, True), (True, True, False)]  # the preset's, the default's, no self


def _module(causal, normalize, self_term, n_terms, dtype=torch.float32):
    torch.manual_seed(0)
    return FKAttention(32, 4, 0.3, n_terms, causal=causal, normalize=normalize, self_term=self_term).to(dtype)


def _assert_close(a, b, tol=1e-5):
    """max |a − b| ≤ tol · max |b|: float32 agreement on the tensor's own scale (sums of many terms)."""
    a, b = a.detach(), b.detach()
    assert float((a - b).abs().max()) <= tol * max(float(b.abs().max()), 1e-30)


def _value_and_grads(module, x, mask=None):
    x = x.detach().clone().requires_grad_()
    out = module(x, mask)
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype).to(out.device)
    inputs = (x, *module.parameters())
    grads = torch.autograd.grad((out * weight).sum(), inputs, allow_unused=True)  # K = 0 uses no q, k
    return out, [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads)]


@pytest.mark.parametrize("T", [1, 7, 31, 64])
@pytest.mark.parametrize("causal, normalize, self_term", VARIANTS)
@pytest.mark.parametrize("n_terms", [0, 1, 5])
@pytest.mark.parametrize("device", DEVICES)
def test_fused_series_matches_the_reference(T, causal, normalize, self_term, n_terms, device):
    """float32 to 1e-5 of each tensor's scale: the same equations, summed in another order (baddbmm
    rounds V + β·(A·Y) once where the reference rounds twice)."""
    module = _module(causal, normalize, self_term, n_terms).to(device)
    x = torch.randn(3, T, 32, generator=torch.Generator().manual_seed(T)).to(device)
    fast, fast_grads = _value_and_grads(module, x)  # no mask: the fused path
    all_true = torch.ones(T, T, dtype=torch.bool, device=device)  # hides nothing: sends it to the reference
    ref, ref_grads = _value_and_grads(module, x, all_true)
    _assert_close(fast, ref)
    for a, b in zip(fast_grads, ref_grads):
        _assert_close(a, b)


def test_fused_series_equals_the_function_in_float64():
    module = _module(True, False, True, 5, torch.float64)
    x = torch.randn(2, 13, 32, dtype=torch.float64)
    B, T, C = x.shape
    q, k, v = (p(x).view(B, T, 4, 8).transpose(1, 2) for p in (module.q_proj, module.k_proj, module.v_proj))
    ref, _ = fk_attention(q, k, v, 0.3, 5, None, normalize=False, causal=True)  # (B, H, T, D)
    torch.testing.assert_close(module._mix(q, k, v, None), ref, rtol=1e-13, atol=1e-13)


def test_masked_and_exact_layers_keep_the_reference():
    """A real mask (a fully masked row returns 0) and the exact resolvent are not the fused path's."""
    module = _module(False, False, True, 5)
    x = torch.randn(2, 6, 32)
    mask = torch.ones(6, 6, dtype=torch.bool)
    mask[2] = False  # query 2 sees nothing
    out, _ = _value_and_grads(module, x, mask)
    assert torch.isfinite(out).all()
    exact = _module(True, False, True, None)
    assert torch.isfinite(exact(x)).all()
    with pytest.raises(ValueError, match="x must have shape"):
        module(torch.randn(2, 6, 31))
