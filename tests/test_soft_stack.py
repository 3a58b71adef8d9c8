"""The fused soft stack against the step-by-step reference: values, gradients, hard controls, padding."""

import pytest
import torch

from spark_edu.soft_stack import NOOP, run_stack, run_stack_fused
from spark_edu.verifier import VerifierHead


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def _inputs(B, T, M, dtype, seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    controls = torch.randn(B, T, 3, generator=g, dtype=dtype).softmax(-1)  # (B, T, 3) on the simplex
    values = torch.randn(B, T, M, generator=g, dtype=dtype).tanh()  # (B, T, M)
    return controls.to(device).requires_grad_(), values.to(device).requires_grad_()


def _outputs_and_grads(fn, controls, values, K, seed=1):
    stacks, tops = fn(controls, values, K)
    g = torch.Generator().manual_seed(seed)
    weight_s, weight_t = (torch.randn(t.shape, generator=g).to(t) for t in (stacks, tops))
    loss = (stacks * weight_s).sum() + (tops * weight_t).sum()
    return stacks, tops, torch.autograd.grad(loss, (controls, values))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("B, T, K, M", [(8, 31, 16, 9), (1, 1, 1, 1), (3, 7, 4, 2), (2, 33, 5, 3)])
def test_fused_stack_matches_the_loop_in_values_and_gradients(B, T, K, M, device):
    """float32 to 1e-6 (the fused path adds the three moves in the same order; only FMA rounding differs)."""
    controls, values = _inputs(B, T, M, torch.float32, device=device)
    ref = _outputs_and_grads(run_stack, controls, values, K)
    fused = _outputs_and_grads(run_stack_fused, controls, values, K)
    for a, b in zip(ref[:2] + ref[2], fused[:2] + fused[2]):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6)


def test_fused_stack_gradcheck_float64():
    controls, values = _inputs(2, 6, 3, torch.float64)
    assert torch.autograd.gradcheck(lambda c, v: run_stack_fused(c, v, 4), (controls, values))


def test_fused_stack_with_hard_controls_is_exact():
    g = torch.Generator().manual_seed(3)
    controls = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 40), generator=g), 3).float()  # (2, 40, 3)
    values = torch.randn(2, 40, 4, generator=g)
    for a, b in zip(run_stack(controls, values, 3), run_stack_fused(controls, values, 3)):
        assert torch.equal(a, b)  # one-hot strengths: every product is by 0 or 1


def test_head_with_padding_matches_the_reference_loop(monkeypatch):
    """The head (fused) against the same head running the reference loop, padded rows included."""
    torch.manual_seed(0)
    head = VerifierHead(16, stack_size=4, element_dim=3).double()
    h = torch.randn(3, 9, 16, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, 5:] = False
    mask[2, 1:] = False
    fused = head(h, mask)
    (grad_fused,) = torch.autograd.grad(fused.stacks.sum() + fused.step_logits.sum(), h)
    monkeypatch.setattr("spark_edu.verifier.run_stack_fused", lambda c, v, k, check: run_stack(c, v, k))
    ref = head(h, mask)
    (grad_ref,) = torch.autograd.grad(ref.stacks.sum() + ref.step_logits.sum(), h)
    for name in ("stacks", "tops", "stack_depth", "step_logits", "valid_logits"):
        torch.testing.assert_close(getattr(fused, name), getattr(ref, name), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_fused, grad_ref, rtol=1e-12, atol=1e-12)
    assert torch.equal(fused.stacks[1, 5:], fused.stacks[1, 4:5].expand(4, -1, -1))  # padding is a no-op
    assert (fused.controls[2, 1:, NOOP] == 1).all()


def test_fused_stack_rejects_bad_input_like_the_loop():
    controls, values = _inputs(2, 5, 3, torch.float32)
    with pytest.raises(ValueError, match="simplex|sum to 1"):
        run_stack_fused(controls.detach() * 2, values, 4)
    with pytest.raises(ValueError, match="same \\(batch, length\\)"):
        run_stack_fused(controls[:, :4], values, 4)
    with pytest.raises(ValueError, match="stack_size"):
        run_stack_fused(controls, values, 0)
