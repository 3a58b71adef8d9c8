"""The verifier head: a differentiable stack driven by a transformer's hidden states.

A stack of ``K`` slots, each holding a vector, is updated at every step by a *mixture* of
the three things an ordinary stack can do, with continuous strengths
``a_t = (a_push, a_pop, a_noop)`` on the simplex (Joulin & Mikolov, 2015; Grefenstette et
al., 2015 use separate push and pop strengths, the same idea). Top of stack is slot 0
(eq-verifier-stack)::

    S_t[0] = a_push · e_t        + a_pop · S_{t-1}[1]   + a_noop · S_{t-1}[0]
    S_t[i] = a_push · S_{t-1}[i-1] + a_pop · S_{t-1}[i+1] + a_noop · S_{t-1}[i]   (0 < i < K)

with ``S_{t-1}[K] = 0`` (popping shifts an empty slot in at the bottom; pushing onto a full
stack drops the bottom slot). With one-hot ``a_t`` this *is* an ordinary stack; with soft
``a_t`` each slot is the convex combination of the three hard outcomes, so gradients reach
the controls. The pushed element ``e_t = [v_t ; 1]`` carries an occupancy marker, so the
last channel of a slot says how full it is and the stack's depth is
(eq-verifier-depth) ``d_t = Σ_i S_t[i, -1]`` — exactly the number of elements under hard
controls (capped at ``K``). The head reads the top *before* updating, ``r_t = S_{t-1}[0]``,
which is what a bracket checker needs: a closing bracket must match the top, and popping
an empty top (occupancy 0) is an underflow.

The head (:class:`VerifierHead`) maps each hidden state ``h_t`` to controls
``a_t = softmax(MLP(h_t))`` and a value ``v_t = tanh(W_v h_t)``, runs the stack, and reads
``[h_t ; r_t ; d_t]`` through a small :class:`Readout` into a per-step "prefix still valid"
logit ``ℓ_t`` and one per-sequence valid/invalid logit (eq-verifier-sequence)
``ℓ_seq = w · [g_T ; softmin_t ℓ_t ; ŷ_T] + b``: a string is valid when every prefix is and
the last step's state says so. Its per-step depth prediction ``ŷ_t`` is the stack depth
``d_t`` itself, so a depth loss trains the controller directly. There is no Gumbel noise and nothing is created in
``forward``: every parameter exists at construction and is trained.

The stack itself lives in :mod:`spark_edu.soft_stack` (:func:`stack_step`, the reference
loop :func:`run_stack`, and :func:`run_stack_fused`, which the head runs); its names are
importable from here too.

Dimension letters: B batch, T steps, C model width, K stack slots, M element width (+1 for
the occupancy marker), A = 3 actions (push, pop, no-op).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spark_edu.soft_stack import (
    NOOP,
    POP,
    PUSH,
    check_controls,
    run_stack,
    run_stack_fused,
    stack_depth,
    stack_step,
)
from spark_edu.validation import check_bool, check_float, check_input, check_ndim, check_positive_int, check_tensor

__all__ = [  # the stack's names stay importable from here, where the chapter met them
    "NOOP",
    "POP",
    "PUSH",
    "Readout",
    "VerifierHead",
    "VerifierOutput",
    "check_controls",
    "check_mask",
    "run_stack",
    "run_stack_fused",
    "stack_depth",
    "stack_step",
    "verifier_loss",
]


@dataclass(frozen=True)
class VerifierOutput:
    """Everything the head computes; shapes for a batch of B sequences of T steps."""

    controls: torch.Tensor  # (B, T, 3) push / pop / no-op strengths
    stacks: torch.Tensor  # (B, T, K, M+1) stack contents after each step
    tops: torch.Tensor  # (B, T, M+1) top slot read before each step
    stack_depth: torch.Tensor  # (B, T) d_t, eq-verifier-depth
    depth: torch.Tensor  # (B, T) predicted nesting depth: the stack depth d_t itself
    step_logits: torch.Tensor  # (B, T) logit of "the prefix up to t is still valid"
    valid_logits: torch.Tensor  # (B,) logit of "the whole sequence is valid"


class Readout(nn.Module):
    """Per-step and per-sequence predictions from per-step features ``f_t`` (B, T, F).

    ``g_t = ReLU(W f_t)``; prefix logit ``ℓ_t = w_p · g_t``; depth ``ŷ_t = w_d · g_t``
    unless a depth is supplied (the verifier supplies its stack depth ``d_t``); the sequence
    logit is eq-verifier-sequence over the last real step. Shared by the verifier and the
    baseline so the two differ only in what they feed it.
    """

    def __init__(self, in_dim: int, hidden: int, predict_depth: bool = True):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.step = nn.Linear(hidden, 2 if predict_depth else 1)  # -> (prefix-valid logit[, depth])
        self.sequence = nn.Linear(hidden + 2, 1)

    def forward(self, features: torch.Tensor, mask: torch.Tensor, depth: torch.Tensor | None = None):
        g = self.body(features)  # (B, T, hidden)
        step = self.step(g)  # (B, T, 1 or 2)
        step_logits = step[..., 0]  # (B, T)
        depth = step[..., 1] if depth is None else depth  # (B, T)
        last = mask.long().sum(dim=1) - 1  # (B,) index of the last real step
        rows = torch.arange(g.shape[0], device=g.device)
        softmin = -torch.logsumexp((-step_logits).masked_fill(~mask, -torch.inf), dim=1)  # (B,)
        summary = torch.cat([g[rows, last], softmin[:, None], depth[rows, last, None]], dim=-1)  # (B, hidden+2)
        return depth, step_logits, self.sequence(summary).squeeze(-1)


def check_mask(mask: torch.Tensor | None, B: int, T: int, device) -> torch.Tensor:
    """A (B, T) boolean mask of real steps, each row starting with at least one real step."""
    if mask is None:
        return torch.ones(B, T, dtype=torch.bool, device=device)
    check_bool("mask", mask)
    if mask.shape != (B, T):
        raise ValueError(f"mask must be a bool tensor of shape {(B, T)}, got {mask.dtype} {tuple(mask.shape)}")
    if not bool(mask[:, 0].all()):
        raise ValueError("every sequence must be non-empty: mask[:, 0] must be True (padding goes at the end)")
    return mask


class VerifierHead(nn.Module):
    """Hidden states (B, T, C) -> stack controls, stack contents, and predictions.

    ``stack_size`` K ≥ 1 slots of ``element_dim`` M channels (plus occupancy); the
    controller and readout MLPs have ``hidden`` units (default ``d_model // 2``). Padded
    steps (``mask`` False) are forced to no-op, so the final stack is the one after the
    last real token. At ``d_model=128`` with the defaults it has 18,511 parameters
    (the prototype behind the report had 22,916 at the same width, one stack of 16).
    """

    def __init__(self, d_model: int, stack_size: int = 16, element_dim: int = 8, hidden: int | None = None):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("stack_size", stack_size)
        check_positive_int("element_dim", element_dim)
        hidden = max(1, d_model // 2) if hidden is None else hidden
        check_positive_int("hidden", hidden)
        self.d_model, self.stack_size, self.element_dim = d_model, stack_size, element_dim
        self.controller = nn.Sequential(nn.Linear(d_model, hidden), nn.ReLU(), nn.Linear(hidden, 3))
        self.value = nn.Linear(d_model, element_dim)
        self.readout = Readout(d_model + element_dim + 2, hidden, predict_depth=False)  # reads [h_t ; r_t ; d_t]

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None = None, hard: bool = False
    ) -> VerifierOutput:
        """``hard=True`` replaces ``a_t`` by its arg-max (a discrete stack, for evaluation)."""
        check_input("hidden_states", hidden_states, self.value.weight)
        check_ndim("hidden_states", hidden_states, (3,))
        B, T, C = hidden_states.shape
        if C != self.d_model:
            raise ValueError(f"hidden_states must have width d_model={self.d_model}, got {C}")
        if T < 1:
            raise ValueError("hidden_states must have at least one step, got length 0")
        mask = check_mask(mask, B, T, hidden_states.device)
        controls = self.controller(hidden_states).softmax(dim=-1)  # (B, T, 3): a_t
        if hard:
            controls = F.one_hot(controls.argmax(dim=-1), 3).to(controls.dtype)  # (B, T, 3)
        noop = F.one_hot(torch.tensor(NOOP, device=controls.device), 3).to(controls.dtype)  # (3,)
        controls = torch.where(mask.unsqueeze(-1), controls, noop)  # (B, T, 3): padding does nothing
        values = torch.tanh(self.value(hidden_states))  # (B, T, M): v_t
        stacks, tops = run_stack_fused(controls, values, self.stack_size, check=False)  # (B, T, K, M+1), (B, T, M+1)
        depth_t = stack_depth(stacks)  # (B, T): d_t
        features = torch.cat([hidden_states, tops, depth_t.unsqueeze(-1)], dim=-1)  # (B, T, C+M+2)
        depth, step_logits, valid_logits = self.readout(features, mask, depth=depth_t)  # depth prediction = d_t
        return VerifierOutput(controls, stacks, tops, depth_t, depth, step_logits, valid_logits)


def _check_loss_inputs(depth, step_logits, valid_logits, depth_target, prefix_ok, valid, mask) -> None:
    for name, t in (("depth", depth), ("step_logits", step_logits), ("valid_logits", valid_logits)):
        check_float(name, t)
    check_ndim("mask", mask, (2,))
    per_step = (
        ("depth", depth),
        ("step_logits", step_logits),
        ("depth_target", depth_target),
        ("prefix_ok", prefix_ok),
    )
    per_sequence = (("valid_logits", valid_logits), ("valid", valid))
    for names, expected in ((per_step, mask.shape), (per_sequence, mask.shape[:1])):
        for name, t in names:
            check_tensor(name, t)
            if t.shape != expected:
                raise ValueError(f"{name} must have shape {tuple(expected)} (B, T from mask), got {tuple(t.shape)}")


def verifier_loss(
    depth: torch.Tensor,
    step_logits: torch.Tensor,
    valid_logits: torch.Tensor,
    depth_target: torch.Tensor,
    prefix_ok: torch.Tensor,
    valid: torch.Tensor,
    mask: torch.Tensor,
    sequence_only: bool = False,
) -> torch.Tensor:
    """Sequence BCE + per-step BCE (prefix valid) + per-step MSE (depth), averaged over real steps.

    Works for any model that emits the three predictions (the verifier head and the
    baseline alike), so both are trained on exactly the same objective. ``sequence_only=True``
    keeps the sequence BCE alone: no per-step label (depth, prefix) reaches the model, so a
    stack that counts must be discovered from the valid/invalid label.
    """
    _check_loss_inputs(depth, step_logits, valid_logits, depth_target, prefix_ok, valid, mask)
    if not isinstance(sequence_only, bool):
        raise TypeError(f"sequence_only must be a bool, got {sequence_only!r}")
    m = mask.to(depth.dtype)  # (B, T)
    n = m.sum().clamp_min(1.0)
    seq = F.binary_cross_entropy_with_logits(valid_logits, valid.to(valid_logits.dtype))
    if sequence_only:
        return seq
    step = (
        F.binary_cross_entropy_with_logits(step_logits, prefix_ok.to(step_logits.dtype), reduction="none") * m
    ).sum() / n
    dep = (((depth - depth_target.to(depth.dtype)) ** 2) * m).sum() / n
    return seq + step + dep
