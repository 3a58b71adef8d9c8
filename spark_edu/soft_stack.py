"""The soft stack of the verifier head (eq-verifier-stack), step by step and fused.

Top of stack is slot 0; at step t the strengths ``a_t = (a_push, a_pop, a_noop)`` on the
simplex mix the three outcomes of an ordinary stack (Joulin & Mikolov, 2015; Grefenstette
et al., 2015)::

    S_t[0] = a_push · e_t          + a_pop · S_{t-1}[1]   + a_noop · S_{t-1}[0]
    S_t[i] = a_push · S_{t-1}[i-1] + a_pop · S_{t-1}[i+1] + a_noop · S_{t-1}[i]   (0 < i < K)

with ``S_{t-1}[K] = 0``. :func:`stack_step` is one update, three lines for the equation;
:func:`run_stack` loops it over a sequence (the reference). :func:`run_stack_fused` is the
same recurrence as one autograd node whose backward is written out (eq-verifier-adjoint):
the update is linear in the stack, ``S_t = P_t S_{t-1} + a_push·e_t`` at the top, so its
adjoint is the transposed map ``P_tᵀ`` — the stack run backwards in time with push and pop
swapped. The head (:mod:`spark_edu.verifier`) uses the fused one; a test checks that the two
agree in values and gradients.

Dimension letters: B batch, T steps, K stack slots, M element width (+1 for the occupancy
marker).
"""

from __future__ import annotations

import torch

from spark_edu.validation import check_float, check_ndim, check_positive_int

PUSH, POP, NOOP = 0, 1, 2  # order of the three action strengths in a_t
_SIMPLEX_TOL = 1e-4  # slack on "each row of controls is non-negative and sums to 1"


def check_controls(controls: torch.Tensor) -> None:
    """Strengths ``a_t`` on the simplex: entries in [0, 1], each row summing to 1.

    Off the simplex the slots stop being convex combinations, and the occupancy (the depth)
    can grow past the stack size without bound: strengths of 5 fill a 4-slot stack to 3,400.
    """
    check_float("controls", controls)
    if controls.dim() < 1 or controls.shape[-1] != 3:
        raise ValueError(
            f"controls must have 3 entries (push, pop, no-op) on the last axis, got shape {tuple(controls.shape)}"
        )
    if controls.numel() and (
        bool((controls < -_SIMPLEX_TOL).any()) or bool(((controls.sum(-1) - 1).abs() > _SIMPLEX_TOL).any())
    ):
        raise ValueError(
            "controls must be non-negative and sum to 1 over (push, pop, no-op) in every row "
            "(a softmax or a one-hot), so the stack never holds more than its size"
        )


def _check_step(stack: torch.Tensor, controls: torch.Tensor, element: torch.Tensor) -> None:
    check_float("stack", stack)
    check_ndim("stack", stack, (3,))
    check_controls(controls)
    check_float("controls", controls, like=("stack", stack))
    check_float("element", element, like=("stack", stack))
    check_ndim("controls", controls, (2,))
    check_ndim("element", element, (2,))
    B, _, M = stack.shape
    if controls.shape[0] != B or element.shape != (B, M):
        raise ValueError(
            f"stack (B, K, M), controls (B, 3) and element (B, M) must agree, got {tuple(stack.shape)}, "
            f"{tuple(controls.shape)} and {tuple(element.shape)}"
        )


def stack_step(stack: torch.Tensor, controls: torch.Tensor, element: torch.Tensor, check: bool = True) -> torch.Tensor:
    """One update of eq-verifier-stack: ``stack`` (B, K, M), ``controls`` (B, 3), ``element`` (B, M)."""
    if check:
        _check_step(stack, controls, element)
    pushed = torch.cat([element.unsqueeze(1), stack[:, :-1]], dim=1)  # (B, K, M): e_t on top, bottom dropped
    popped = torch.cat([stack[:, 1:], torch.zeros_like(stack[:, :1])], dim=1)  # (B, K, M): top removed
    a = controls.unsqueeze(-1).unsqueeze(-1)  # (B, 3, 1, 1)
    return a[:, PUSH] * pushed + a[:, POP] * popped + a[:, NOOP] * stack  # (B, K, M)


def _check_run(controls: torch.Tensor, values: torch.Tensor, stack_size: int) -> None:
    check_positive_int("stack_size", stack_size)
    check_float("values", values)
    check_controls(controls)
    check_float("controls", controls, like=("values", values))
    check_ndim("controls", controls, (3,))
    check_ndim("values", values, (3,))
    if controls.shape[:2] != values.shape[:2]:
        raise ValueError(
            f"controls and values must have the same (batch, length), got "
            f"{tuple(controls.shape[:2])} and {tuple(values.shape[:2])}"
        )
    if controls.shape[1] < 1:
        raise ValueError("controls and values must have at least one step, got length 0")


def _elements(values: torch.Tensor) -> torch.Tensor:
    """(B, T, M) -> (B, T, M+1): e_t = [v_t ; 1], the value with its occupancy marker."""
    return torch.cat([values, values.new_ones(*values.shape[:2], 1)], dim=-1)


def run_stack(controls: torch.Tensor, values: torch.Tensor, stack_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Run eq-verifier-stack over a sequence from an empty stack, one :func:`stack_step` per step.

    ``controls`` (B, T, 3) rows on the simplex (push, pop, no-op); ``values`` (B, T, M) the
    vectors offered for pushing. Returns ``(stacks, tops)``: ``stacks`` (B, T, K, M+1), the
    stack after each step (last channel = occupancy), and ``tops`` (B, T, M+1), the top
    slot read *before* step ``t``'s update. The reference :func:`run_stack_fused` is tested against.
    """
    _check_run(controls, values, stack_size)
    B, T, M = values.shape
    elements = _elements(values)  # (B, T, M+1)
    stack = values.new_zeros(B, stack_size, M + 1)  # (B, K, M+1): empty
    stacks, tops = [], []
    for t in range(T):
        tops.append(stack[:, 0])  # (B, M+1): r_t = S_{t-1}[0]
        stack = stack_step(stack, controls[:, t], elements[:, t], check=False)  # (B, K, M+1)
        stacks.append(stack)
    return torch.stack(stacks, dim=1), torch.stack(tops, dim=1)


def run_stack_fused(
    controls: torch.Tensor, values: torch.Tensor, stack_size: int = 16, check: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`run_stack` with the loop inside one autograd node (:class:`_FusedStack`): same
    inputs, same outputs to float rounding, a handful of kernels per step instead of a graph
    of ~20 nodes per step. ``check=False`` skips validation (for a caller that built
    ``controls`` by a softmax)."""
    if check:
        _check_run(controls, values, stack_size)
    stacks = _FusedStack.apply(controls, _elements(values), stack_size)  # (B, T, K, M+1)
    tops = torch.cat([stacks.new_zeros(stacks.shape[0], 1, stacks.shape[-1]), stacks[:, :-1, 0]], dim=1)
    return stacks, tops  # (B, T, K, M+1), (B, T, M+1): r_t = S_{t-1}[0], r_0 = 0


def _windows(Z: torch.Tensor, K: int) -> tuple[tuple[torch.Tensor, ...], ...]:
    """(B, T', K+2, M) padded rows -> the windows [0:K], [1:K+1], [2:K+2] of each row, as per-t views."""
    return Z[:, :, :K].unbind(1), Z[:, :, 1 : K + 1].unbind(1), Z[:, :, 2:].unbind(1)


def _strengths(controls: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], ...]:
    """(B, T, 3) -> a_push, a_pop, a_noop as per-t (B, 1, 1) views."""
    return tuple(controls[:, :, i, None, None].unbind(1) for i in (PUSH, POP, NOOP))


class _FusedStack(torch.autograd.Function):
    """eq-verifier-stack for all t as one node; its backward is eq-verifier-adjoint.

    Forward writes every state into one padded buffer ``Z`` (B, T+1, K+2, M+1) with
    ``Z[:, t] = [e_t ; S_{t-1} ; 0]``, so the three moves are three windows of one row:
    ``S_t = a_push·Z[t, 0:K] + a_pop·Z[t, 2:K+2] + a_noop·Z[t, 1:K+1]``, stored in
    ``Z[t+1, 1:K+1]``. With ``G_t = ∂L/∂S_t`` (zero-padded the same way), the adjoint is
    the stack run backwards in time with push and pop swapped, plus three inner products::

        G_{t-1} += a_push,t · G_t[1:] + a_pop,t · G_t[:-1] + a_noop,t · G_t      (shifts zero-fill)
        ∂L/∂a_push,t = ⟨G_t, Z[t, 0:K]⟩   ∂L/∂a_pop,t = ⟨G_t, Z[t, 2:K+2]⟩   ∂L/∂a_noop,t = ⟨G_t, S_{t-1}⟩
        ∂L/∂e_t = a_push,t · G_t[0]
    """

    @staticmethod
    def forward(ctx, controls: torch.Tensor, elements: torch.Tensor, stack_size: int) -> torch.Tensor:
        B, T, M1 = elements.shape
        K = stack_size
        Z = elements.new_zeros(B, T + 1, K + 2, M1)  # (B, T+1, K+2, M+1): Z[:, t] = [e_t ; S_{t-1} ; 0]
        Z[:, :T, 0] = elements
        pushed, kept, popped = _windows(Z, K)  # per t, (B, K, M+1) views of Z[:, t]
        push, pop, noop = _strengths(controls)  # per t, (B, 1, 1)
        for t in range(T):
            S = kept[t + 1]  # S_t, written in place
            torch.mul(push[t], pushed[t], out=S)  # e_t on top, bottom dropped
            S.addcmul_(pop[t], popped[t])  # top removed, an empty slot in at the bottom
            S.addcmul_(noop[t], kept[t])  # unchanged
        ctx.save_for_backward(controls, Z)
        ctx.stack_size = K
        return Z[:, 1:, 1 : K + 1].clone()  # (B, T, K, M+1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_stacks: torch.Tensor):
        controls, Z = ctx.saved_tensors
        K, (B, T, _, M1) = ctx.stack_size, grad_stacks.shape
        G = grad_stacks.new_zeros(B, T, K + 2, M1)  # (B, T, K+2, M+1): G[:, t, 1:K+1] = ∂L/∂S_t
        G[:, :, 1 : K + 1] = grad_stacks
        down, same, up = _windows(G, K)  # per t, G_t[j-1], G_t[j], G_t[j+1] (zero-filled)
        push, pop, noop = _strengths(controls)
        for t in range(T - 1, 0, -1):  # ∂L/∂S_{t-1} collects what S_t passed on
            prev = same[t - 1]  # (B, K, M+1)
            prev.addcmul_(push[t], up[t])  # a push had moved slot j to j+1
            prev.addcmul_(pop[t], down[t])  # a pop had moved slot j to j-1
            prev.addcmul_(noop[t], same[t])
        G = G[:, :, 1 : K + 1]  # (B, T, K, M+1)
        windows = {PUSH: Z[:, :T, :K], POP: Z[:, :T, 2:], NOOP: Z[:, :T, 1 : K + 1]}  # (B, T, K, M+1) each
        grad_controls = torch.stack([(G * windows[i]).sum(dim=(-2, -1)) for i in (PUSH, POP, NOOP)], dim=-1)
        grad_elements = controls[..., PUSH, None] * G[:, :, 0]  # (B, T, M+1)
        return grad_controls, grad_elements, None


def stack_depth(stacks: torch.Tensor) -> torch.Tensor:
    """eq-verifier-depth: occupancy summed over slots, (..., K, M+1) -> (...)."""
    check_float("stacks", stacks)
    if stacks.dim() < 2:
        raise ValueError(f"stacks must have shape (..., K, M+1), got {tuple(stacks.shape)}")
    return stacks[..., -1].sum(dim=-1)
