"""Does the differentiable stack operate correctly? Two measurements behind the statement
``spark.verifier.stack_correct``.

1. **Hard actions, exact stack** (:func:`hard_stack_check`). Each control string is read by an
   ordinary stack: push ``[v; 1]`` on an opening bracket (``v`` one-hot in the bracket type), pop on
   a closing one (nothing happens on an empty stack; a push onto a full stack drops the bottom,
   as eq-verifier-stack does). The soft stack is driven by the same actions as one-hot strengths,
   both the reference loop :func:`~spark_edu.soft_stack.run_stack` and the fused version the head
   runs, :func:`~spark_edu.soft_stack.run_stack_fused`; every slot after every step is compared
   with the discrete stack's, and so is the depth (eq-verifier-depth).
2. **The trained verifier's stack loss** (:func:`stack_losses`): the depth term of
   :func:`~spark_edu.verifier.verifier_loss`, the mean squared difference between the stack's
   occupancy ``d_t`` and the true depth over every real step of the seed-0 test set, for the seed-0
   Dyck-2 verifier at initialisation and after training (the weights the chapter ships).

The control strings (:func:`control_strings`) are the chapter's own: the two strings it works by
hand and traces, ``([])`` and ``([()[]])[[]]([)]``, and every held-out string of Dyck-2 seed 0, the
test set and the length and depth probes, valid and corrupted alike (corrupted strings pop an
empty stack or close the wrong type, so the checks cover those cases too).
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from spark_edu.chapters.verifier.models import ExperimentConfig, build_models, load_model, predictions
from spark_edu.soft_stack import NOOP, POP, PUSH, run_stack, run_stack_fused, stack_depth
from spark_edu.tasks import dyck

WORKED = ("([])", "([()[]])[[]]([)]")  # the strings the chapter works by hand and traces


def control_strings(cfg: ExperimentConfig = ExperimentConfig(), language: int = 2, seed: int = 0) -> list[str]:
    """The worked strings, then the held-out strings of (``language``, ``seed``), without repeats."""
    from spark_edu.chapters.verifier.runs import datasets

    held = datasets(replace(cfg, steps=1, probes=True), language, seed)  # held-out sets do not depend on steps
    strings = list(WORKED) + held["test"].strings
    strings += [s for group in held["probes"].values() for b in group.values() for s in b.strings]
    return list(dict.fromkeys(strings))


def discrete_stacks(strings: list[str], stack_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An ordinary stack over each string: ``(actions (B, T), values (B, T, 2), stacks (B, T, K, 3))``.

    Padding steps are no-ops. A slot holds ``[one-hot type ; 1]``; an empty slot is zero."""
    B, T = len(strings), max(len(s) for s in strings)
    actions = torch.full((B, T), NOOP, dtype=torch.long)
    values = torch.zeros(B, T, len(dyck.OPEN))
    stacks = torch.zeros(B, T, stack_size, len(dyck.OPEN) + 1)
    for b, s in enumerate(strings):
        stack: list[list[float]] = []
        for t in range(T):
            ch = s[t] if t < len(s) else None
            if ch is not None and ch in dyck.OPEN:
                element = [float(k == dyck.OPEN.index(ch)) for k in range(len(dyck.OPEN))]
                values[b, t] = torch.tensor(element)
                actions[b, t] = PUSH
                stack = ([element + [1.0]] + stack)[:stack_size]  # full: the bottom slot drops out
            elif ch is not None:
                actions[b, t] = POP
                stack = stack[1:]  # empty: stays empty
            for i, slot in enumerate(stack):
                stacks[b, t, i] = torch.tensor(slot)
    return actions, values, stacks


@torch.no_grad()
def hard_stack_check(strings: list[str], stack_size: int = 16, chunk: int = 500) -> dict:
    """Largest absolute difference, slots and depth, between the soft stacks on one-hot actions and
    the discrete stack, over every step of ``strings`` (reference loop and fused version)."""
    largest = {"run_stack": 0.0, "run_stack_fused": 0.0}
    exact, steps = 0, 0
    for i in range(0, len(strings), chunk):
        part = strings[i : i + chunk]
        actions, values, expected = discrete_stacks(part, stack_size)
        controls = F.one_hot(actions, 3).float()  # (B, T, 3)
        lengths = torch.tensor([len(s) for s in part])
        real = torch.arange(actions.shape[1])[None, :] < lengths[:, None]  # (B, T)
        per_string = torch.zeros(len(part), dtype=torch.bool)
        for name, run in (("run_stack", run_stack), ("run_stack_fused", run_stack_fused)):
            stacks, _ = run(controls, values, stack_size)
            slot_diff = (stacks - expected).abs().amax(dim=(-2, -1))  # (B, T)
            depth_diff = (stack_depth(stacks) - stack_depth(expected)).abs()  # (B, T)
            diff = torch.maximum(slot_diff, depth_diff)[real]
            largest[name] = max(largest[name], float(diff.max()))
            per_string |= (torch.maximum(slot_diff, depth_diff) * real).amax(dim=1) > 0
        exact += int((~per_string).sum())
        steps += int(real.sum())
    return {
        "strings": len(strings),
        "steps": steps,
        "exact_strings": exact,  # strings on which both versions match the discrete stack exactly, every step
        "largest_abs_diff": max(largest.values()),
        "largest_by_version": largest,
        "stack_size": stack_size,
    }


@torch.no_grad()
def depth_loss(model, batch: dyck.DyckBatch, chunk: int = 250) -> float:
    """The stack loss: mean over real steps of (d_t − true depth)², the depth term of ``verifier_loss``."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(batch.strings), chunk):
        part = dyck.encode(batch.strings[i : i + chunk])
        depth, _, _ = predictions(model, part)
        m = part.mask.to(depth.dtype)
        total += float((((depth - part.depth.to(depth.dtype)) ** 2) * m).sum())
        count += int(m.sum())
    return total / count


def stack_losses(cfg: ExperimentConfig = ExperimentConfig(), language: int = 2) -> dict:
    """The seed-0 verifier's stack loss on its test set, at initialisation and trained (the shipped
    weights, which exist for seed 0 only)."""
    from spark_edu.chapters.verifier.runs import datasets

    seed = 0
    test = datasets(replace(cfg, steps=1, probes=False), language, seed)["test"]
    initial = build_models(cfg, seed, ("verifier",))["verifier"]
    trained = load_model(cfg=cfg, language=language)
    return {
        "initial": depth_loss(initial, test),
        "trained": depth_loss(trained, test),
        "strings": len(test.strings),
        "language": language,
        "seed": seed,
        "steps": cfg.steps,
    }
