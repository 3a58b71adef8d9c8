"""One training run of the SPaR-K model on the palindrome task, and what it records.

:func:`train_run` trains one :class:`spark_edu.model.SparkTransformer` on the palindrome task
(:mod:`spark_edu.tasks.palindromes`) with the original's budget settings (batch 8, lr 1e-3,
AdamW with weight decay 0.01, clipping at 1), seeded; it records the loss, the pre-clipping
gradient norms, held-out loss and accuracy on the predictable targets, and the FK series'
error bound (eq-fk-bound) on the attention matrices the model really uses.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from spark_edu.attention.dense import attention_weights
from spark_edu.device import one_thread
from spark_edu.fk_attention import FKAttention, path_series, resolvent, series_error_bound
from spark_edu.model import COMPONENTS, SparkConfig, SparkTransformer, build
from spark_edu.tasks.palindromes import PalindromeConfig, PalindromeData, make_dataset
from spark_edu.train import Step, TrainConfig, train


def label(config: SparkConfig) -> str:
    """ "FK+SPD+verifier", "FK", …, "none" (standard attention, no router, no verifier).

    The router's wiring shows when it is not the original's: "SPD(res)", "SPD(res+LN)".
    """
    wiring = {"replace": "", "residual": "(res)", "residual_ln": "(res+LN)"}[config.spd_wiring]
    names = {"fk": "FK", "spd": "SPD" + wiring, "verifier": "verifier"}
    return "+".join(names[c] for c in COMPONENTS if config.uses(c)) or "none"


@dataclass(frozen=True)
class RunConfig:
    """The training budget; the original's settings except ``steps`` (it stopped after 18)."""

    steps: int = 400
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    evals: int = 4  # held-out evaluations during training (plus one at the end)
    n_test: int = 400  # held-out sequences (30% palindromes)
    data: PalindromeConfig = field(default_factory=PalindromeConfig)


def train_config(run: RunConfig, seed: int) -> TrainConfig:
    """The :class:`spark_edu.train.TrainConfig` of one run: the budget's settings, AdamW fused."""
    return TrainConfig(
        steps=run.steps, lr=run.lr, weight_decay=run.weight_decay, grad_clip=run.grad_clip, seed=seed, fused=True
    )


def datasets(seed: int, run: RunConfig) -> tuple[PalindromeData, PalindromeData]:
    """Training set (the original's 800 sequences) and a held-out set, both from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return make_dataset(run.data, g), make_dataset(replace(run.data, n_sequences=run.n_test), g)


def next_token_loss(model: SparkTransformer, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over every target plus the original's auxiliary term (0.05 · Σ separation losses)."""
    logits = model(inputs)  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten()) + model.auxiliary_loss()


@torch.no_grad()
def evaluate(model: SparkTransformer, data: PalindromeData, chunk: int = 200) -> dict[str, float]:
    """Held-out cross-entropy (all targets / predictable ones, no auxiliary term) and accuracy on
    predictable / other targets."""
    was_training = model.training
    model.eval()
    losses, right = [], []
    for i in range(0, len(data), chunk):
        logits = model(data.inputs[i : i + chunk])  # (b, T, V)
        targets = data.targets[i : i + chunk]  # (b, T)
        losses.append(F.cross_entropy(logits.transpose(1, 2), targets, reduction="none"))  # (b, T)
        right.append(logits.argmax(-1) == targets)  # (b, T)
    model.train(was_training)
    right, losses = torch.cat(right), torch.cat(losses)
    pred = data.predictable
    return {
        "loss": float(losses.sum()) / data.targets.numel(),
        "loss_predictable": float(losses[pred].mean()),
        "acc_predictable": float(right[pred].float().mean()),
        "acc_other": float(right[~pred].float().mean()),
    }


@torch.no_grad()
def fk_bounds(model: SparkTransformer, inputs: torch.Tensor) -> dict[str, float] | None:
    """eq-fk-bound on the attention matrices of every FK layer for ``inputs``; None without FK.

    Returns ``q = |β|·max_i Σ_j A_ij`` (the series converges when q < 1), the bound on
    ``max|resolvent − series| / max|V|`` and the measured value of that ratio (worst layer).
    """
    captured = []
    hooks = [
        b.attn.register_forward_pre_hook(lambda m, args: captured.append((m, args[0])))
        for b in model.blocks
        if isinstance(b.attn, FKAttention)
    ]
    if not hooks:
        return None
    try:
        model(inputs)
    finally:
        for h in hooks:
            h.remove()
    out = {"q": 0.0, "bound": 0.0, "error": 0.0}
    for attn, x in captured:
        B, T, C = x.shape
        H, c = attn.n_heads, attn.config
        q, k, v = (p(x).view(B, T, H, C // H).transpose(1, 2) for p in (attn.q_proj, attn.k_proj, attn.v_proj))
        mask = torch.ones(T, T, dtype=torch.bool).tril() if c.causal else None  # (T, T)
        A = attention_weights(q, k, mask)  # (B, H, T, T)
        scale = float(v.abs().max())
        exact = resolvent(A, v, c.beta, triangular=c.causal)  # (B, H, T, D)
        series = path_series(A, v, c.beta, c.n_terms if c.n_terms is not None else 0)
        out["q"] = max(out["q"], abs(c.beta) * float(A.sum(-1).max()))
        out["bound"] = max(out["bound"], series_error_bound(A, v, c.beta, c.n_terms or 0) / scale)
        out["error"] = max(out["error"], float((exact - series).abs().max()) / scale)
    return out


@contextlib.contextmanager
def fast_cpu_training():
    """One thread, subnormal floats flushed to zero; both restored on exit.

    * One thread: the matrices here are tiny (width 128, 31 tokens, batch 8), and on a
      2-core machine shared with other jobs a second OpenMP thread mostly waits at barriers
      (a 248×128×512 product took 16 ms on 2 threads, 0.5 ms on 1, with one core busy).
    * Subnormals: the verifier's soft stack mixes each slot with push/pop/no-op strengths at
      every step, so old contents decay into subnormal numbers, which CPUs process many
      times slower (a SPaR-K training step was ~17× slower). Values below ~1e-38 become 0.
    """
    with one_thread():
        torch.set_flush_denormal(True)
        try:
            yield
        finally:
            torch.set_flush_denormal(False)


def train_run(config: SparkConfig, seed: int, run: RunConfig = RunConfig()) -> dict:
    """Train ``config`` from seed ``seed`` (in :func:`fast_cpu_training`); everything the chapter plots.

    Held-out metrics and FK bounds are taken before training (step 0), after every ``every =
    run.steps // run.evals`` updates below ``run.steps``, and once at the end.
    """
    with fast_cpu_training():
        return _train_run(config, seed, run)


def _train_run(config: SparkConfig, seed: int, run: RunConfig) -> dict:
    train_set, test_set = datasets(seed, run)
    model = build(config, seed)
    every = max(1, run.steps // run.evals)
    curve, bounds = [], []
    probe = test_set.inputs[:8]

    def monitor(step: int) -> None:  # held-out metrics and FK bounds with the weights after ``step`` updates
        curve.append({"step": step, **evaluate(model, test_set)})
        b = fk_bounds(model, probe)
        if b is not None:
            bounds.append({"step": step, **b})

    def on_step(s: Step) -> None:
        if s.step % every == 0 and s.step < run.steps:
            monitor(s.step)

    def make_batch(g: torch.Generator):
        idx = torch.randint(0, len(train_set), (run.batch_size,), generator=g)  # sampled with replacement
        return train_set.inputs[idx], train_set.targets[idx]

    tc = train_config(run, seed)
    start = time.perf_counter()  # the monitoring evaluations count in the time per step, as they always have
    model.train()  # the mode train() runs in: step 0 is monitored as every later step
    monitor(0)
    history = train(model, make_batch, lambda m, batch: next_token_loss(m, *batch), tc, label(config), on_step)
    seconds = time.perf_counter() - start
    final = evaluate(model, test_set)
    curve.append({"step": run.steps, **final})
    b = fk_bounds(model, probe)
    if b is not None:
        bounds.append({"step": run.steps, **b})
    return {
        "label": label(config),
        "components": list(config.components),
        "d_ff": config.d_ff,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "losses": history.losses,
        "grad_norms": history.grad_norms,
        "curve": curve,
        "fk_bounds": bounds,
        "final": final,
        "seconds_per_step": seconds / run.steps,
    }
