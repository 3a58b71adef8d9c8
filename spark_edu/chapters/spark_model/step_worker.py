"""One side of ``bench spark``: a SPaR-K training step, timed in a process of its own.

:mod:`spark_edu.chapters.spark_model.step_bench` runs this file's :func:`main` in two fresh
interpreters (``runpy.run_path``, with ``-P`` so the working directory is not on the path)
whose ``PYTHONPATH`` is a source tree: once the tree under test, once the baseline (two
versions of one package cannot share a process).
So it uses only what every version of the package since d62f282 offers — ``spark_edu.model``'s
``build`` and ``preset``, ``auxiliary_loss`` and the blocks' ``spd`` / ``attn`` / ``verifier`` /
``verifier_out`` / ``mlp`` — and defines the step itself, as ``spark_edu.train.train`` runs it
(zero the gradients, next-token cross-entropy plus the auxiliary loss, backward, clip at 1,
AdamW at lr 1e-3 and weight decay 0.01: the tree's own ``make_optimizer`` for the chapter
where it has one), with subnormals flushed as the chapter trains.

It first writes ``CHECK_FILE`` (the first step's logits, loss and gradients and the weights
after three steps, from seed 0), prints ``{"ready": <spark_edu's path>}``, then answers one
JSON command per line on stdin: ``{"threads": n, "steps": k}`` -> ``{"seconds": [k step
times]}``; ``{"threads": n, "components": r}`` -> median seconds of each component's forward
+ backward over ``r`` calls; ``{"quit": true}`` ends it. Only one side runs at a time.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import spark_edu
from spark_edu.model import build, preset

BATCH, LENGTH, VOCAB, SEED, CHECK_STEPS = 8, 31, 50, 0, 3  # the chapter's batch: 8 sequences of 31 inputs


def make_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    """The chapter's optimizer as the tree makes it; d62f282's ``train`` made a per-tensor AdamW."""
    try:
        from spark_edu.chapters.spark_model.training import RunConfig, train_config
        from spark_edu.train import make_optimizer
    except ImportError:
        return torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    return make_optimizer(model, train_config(RunConfig(), SEED))


def make_step(model: torch.nn.Module, tokens: torch.Tensor, targets: torch.Tensor):
    optimizer = make_optimizer(model)

    def loss_fn() -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(tokens)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten()) + model.auxiliary_loss(), logits

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = loss_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    return loss_fn, step, optimizer


def write_check(path: str, model: torch.nn.Module, loss_fn, step) -> None:
    """First step's loss, logits and gradients, then the weights after ``CHECK_STEPS`` steps."""
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    loss, logits = loss_fn()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    for _ in range(CHECK_STEPS):
        step()
    after = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(
        {"initial": initial, "loss": loss.detach(), "logits": logits.detach(), "grads": grads, "after": after}, path
    )


def component_calls(model: torch.nn.Module, tokens: torch.Tensor) -> dict[str, object]:
    """Forward + backward of each component of every block, on the inputs it gets in the model."""
    inputs: dict[tuple[int, str], torch.Tensor] = {}
    hooks = []
    for i, block in enumerate(model.blocks):
        for name in ("spd", "attn", "verifier", "mlp"):
            module = getattr(block, name)
            if module is not None:
                hooks.append(module.register_forward_pre_hook(lambda m, a, key=(i, name): inputs.update({key: a[0]})))
    with torch.no_grad():
        model(tokens)
    for h in hooks:
        h.remove()

    def run(block, name: str, x: torch.Tensor) -> torch.Tensor:
        if name == "spd":
            y, separation = block.spd(x)
            return y.sum() + separation
        if name == "verifier":  # what SparkBlock writes back: top slot, depth, prefix logit
            out = block.verifier(x)
            read = torch.cat([out.stacks[:, :, 0], out.stack_depth[..., None], out.step_logits[..., None]], dim=-1)
            return block.verifier_out(read).sum()
        return getattr(block, name)(x).sum()

    def component(name: str):
        keys = [key for key in inputs if key[1] == name]

        def call() -> None:
            for i, _ in keys:
                run(model.blocks[i], name, inputs[(i, name)].detach().clone().requires_grad_()).backward()

        return call

    return {name: component(name) for name in ("spd", "attn", "verifier", "mlp") if (0, name) in inputs}


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(check_path: str) -> None:
    torch.set_flush_denormal(True)
    torch.manual_seed(SEED)
    model = build(preset("original"), SEED)
    g = torch.Generator().manual_seed(SEED)
    tokens = torch.randint(0, VOCAB, (BATCH, LENGTH), generator=g)  # (B, T)
    targets = torch.randint(0, VOCAB, (BATCH, LENGTH), generator=g)  # (B, T)
    loss_fn, step, optimizer = make_step(model, tokens, targets)
    write_check(check_path, model, loss_fn, step)
    calls = component_calls(model, tokens)
    calls["optimizer"] = lambda: (torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0), optimizer.step())
    calls["step"] = step
    print(json.dumps({"ready": spark_edu.__file__}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        torch.set_num_threads(command["threads"])
        if "steps" in command:
            reply = {"seconds": [median_seconds(step, 1) for _ in range(command["steps"])]}
        else:
            for fn in calls.values():  # warm this thread count up
                fn()
            reply = {name: median_seconds(fn, command["components"]) for name, fn in calls.items()}
        print(json.dumps(reply), flush=True)
