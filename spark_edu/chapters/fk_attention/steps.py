"""Steps to a fixed accuracy: standard attention against every FK variant, per task and hop count.

A *variant* is an attention layer: standard softmax attention, FK attention at a fixed β
(the β sweep), FK with a learned β per head (:mod:`~spark_edu.chapters.fk_attention.learned_beta`),
or the no-self resolvent ``A(I − βA)⁻¹V`` (eq-fk-no-self). Each is dropped into the same
bidirectional :class:`~spark_edu.transformer.Transformer` and trained with AdamW on fresh
batches of one task, either k-hop pointer chasing (:mod:`spark_edu.tasks.pointer_chasing`)
or reachability (:mod:`spark_edu.tasks.reachability`, a sum over paths; ``reach_matched`` with
degree-matched negatives, where no rule on the target's own edges beats chance). Every
``eval_every`` steps (and at the last) the model is scored on a fixed held-out set; :func:`steps_run` stops at
the first evaluation at or above ``target`` and reports that step (``None`` when the budget
ends first: the count is then censored at ``max_steps``). The held-out set comes from its
own generator, and every training batch is checked against it (a 64-bit hash of each token
sequence): ``overlap`` counts held-out inputs that also appeared in training.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from spark_edu.chapters.fk_attention.learned_beta import LearnedBetaFKAttention, learned_beta_factory
from spark_edu.device import one_thread
from spark_edu.fk_attention import fk_attention_factory
from spark_edu.tasks import pointer_chasing, reachability
from spark_edu.train import TrainConfig, train
from spark_edu.transformer import Transformer, TransformerConfig, count_parameters, standard_attention
from spark_edu.validation import check_positive_int, check_range


@dataclass(frozen=True)
class Variant:
    kind: str  # "standard" or "fk"
    beta: float = 0.0  # FK: the fixed β, or the starting β when learned
    learned: bool = False  # FK: β_h = beta_max · tanh(θ_h) per head (eq-fk-learned-beta)
    self_term: bool = True  # FK: False = A (I − βA)⁻¹ V (eq-fk-no-self)
    beta_max: float = 0.95


#: Every variant the sweep trains, by name (the β sweep, learned β, the no-self resolvent).
VARIANTS = {
    "standard": Variant("standard"),
    **{f"fk β={b}": Variant("fk", b) for b in (0.1, 0.3, 0.5, 0.7, 0.9)},
    "fk learned β": Variant("fk", 0.5, learned=True),
    "fk no-self β=0.5": Variant("fk", 0.5, self_term=False),
}
#: "reach_matched": reachability with degree-matched negatives (only the paths from s decide).
TASKS = ("pointer", "reach", "reach_matched")


@dataclass(frozen=True)
class StepsSetting:
    n_nodes: int = 8
    n_edges: int = 10  # reachability only
    d_model: int = 64
    n_heads: int = 4
    batch: int = 64
    warmup: int = 20
    max_steps: int = 3000
    eval_every: int = 100
    eval_size: int = 1000
    target: float = 0.9  # "solved": held-out accuracy at or above this

    def __post_init__(self):
        for name in ("batch", "max_steps", "eval_every", "eval_size"):
            check_positive_int(name, getattr(self, name))
        check_range("target", self.target, 0.0, 1.0, low_inclusive=False)


def check_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {name!r}")
    return VARIANTS[name]


def task_config(task: str, hops: int, setting: StepsSetting = StepsSetting()):
    """The task's generator config: ``PointerChasingConfig`` or ``ReachabilityConfig``."""
    if task == "pointer":
        return pointer_chasing.PointerChasingConfig(setting.n_nodes, hops)
    if task in ("reach", "reach_matched"):
        return reachability.ReachabilityConfig(setting.n_nodes, setting.n_edges, hops, matched=task == "reach_matched")
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def chance(task: str, setting: StepsSetting = StepsSetting()) -> float:
    """Accuracy of the best input-blind guess (pointer chasing: never the start node)."""
    return 1 / (setting.n_nodes - 1) if task == "pointer" else 0.5


def held_out(task: str, hops: int, seed: int, setting: StepsSetting = StepsSetting()):
    """The fixed held-out set of a run with ``seed``: ``setting.eval_size`` examples from a generator of
    its own (seed 1 000 000 + seed), tokens (B, T) and labels (B,)."""
    config = task_config(task, hops, setting)
    return _sample(task, setting.eval_size, config, torch.Generator().manual_seed(1_000_000 + seed))


def _sample(task: str, batch: int, config, generator: torch.Generator):
    module = pointer_chasing if task == "pointer" else reachability
    return module.sample(batch, config, generator)


def variant_model(name: str, task: str, hops: int, layers: int, setting: StepsSetting = StepsSetting()) -> Transformer:
    """The transformer for ``task``, its attention given by variant ``name``; everything else shared."""
    v, config = check_variant(name), task_config(task, hops, setting)
    tconfig = TransformerConfig(
        vocab_size=config.vocab_size,
        d_model=setting.d_model,
        n_heads=setting.n_heads,
        n_layers=layers,
        max_len=config.seq_len,
        out_dim=setting.n_nodes if task == "pointer" else 2,
        causal=False,
    )
    if v.kind == "standard":
        factory = standard_attention
    elif v.learned:
        factory = learned_beta_factory(v.beta, v.beta_max, self_term=v.self_term)
    else:
        factory = fk_attention_factory(v.beta, self_term=v.self_term)
    return Transformer(tconfig, factory)


def _hash(tokens: torch.Tensor) -> torch.Tensor:
    """(B,) a 64-bit hash of each row: Σ_i token_i · w_i with fixed random odd w_i (wrapping int64)."""
    g = torch.Generator().manual_seed(20261202)
    weights = torch.randint(1, 2**62, (tokens.shape[1],), generator=g) * 2 + 1  # (T,)
    return (tokens * weights).sum(dim=1)


class _Reached(Exception):
    pass


def learned_betas(model) -> torch.Tensor:
    """(layers, H) the current β of every learned-β head, empty when there are none."""
    found = [m.betas().detach() for m in model.modules() if isinstance(m, LearnedBetaFKAttention)]
    return torch.stack(found) if found else torch.empty(0)


@one_thread()  # tiny models, and torch's batched solve is not thread-safe (pytorch#142815)
def steps_run(
    variant: str, task: str, hops: int, layers: int, lr: float, seed: int, setting: StepsSetting = StepsSetting()
) -> dict:
    """Train one model until held-out accuracy reaches ``setting.target`` or the budget ends."""
    check_positive_int("layers", layers)
    s, config = setting, task_config(task, hops, setting)
    torch.manual_seed(seed)
    model = variant_model(variant, task, hops, layers, s)
    x_eval, y_eval = held_out(task, hops, seed, s)
    eval_hashes = _hash(x_eval)
    state = {"overlap": torch.zeros(s.eval_size, dtype=torch.bool), "curve": [], "max_beta": 0.0, "batch": None}

    def make_batch(g):
        state["batch"] = _sample(task, s.batch, config, g)
        state["overlap"] |= torch.isin(eval_hashes, _hash(state["batch"][0]))
        return state["batch"]

    def loss_fn(m, batch):
        return F.cross_entropy(m(batch[0])[:, -1], batch[1])  # the last position answers

    def monitor(step):
        betas = learned_betas(step.model)
        if betas.numel():
            state["max_beta"] = max(state["max_beta"], float(betas.abs().max()))
        if step.step % s.eval_every == 0 or step.step == s.max_steps:
            step.model.eval()
            with torch.no_grad():
                acc = float((step.model(x_eval)[:, -1].argmax(-1) == y_eval).float().mean())
            state["curve"].append((step.step, acc))
            if acc >= s.target:
                raise _Reached

    train_config = TrainConfig(steps=s.max_steps, lr=lr, warmup_steps=s.warmup, seed=seed)
    try:
        train(model, make_batch, loss_fn, train_config, desc=f"{variant} {task} k={hops} L={layers}", on_step=monitor)
        reached = None
    except _Reached:
        reached = state["curve"][-1][0]
    model.eval()
    betas = learned_betas(model)
    return {
        "variant": variant,
        "task": task,
        "hops": hops,
        "layers": layers,
        "lr": lr,
        "seed": seed,
        "steps_to_target": reached,
        "final_accuracy": state["curve"][-1][1] if state["curve"] else math.nan,
        "curve": state["curve"],
        "overlap": int(state["overlap"].sum()),
        "max_abs_beta": state["max_beta"] if betas.numel() else None,
        "final_betas": betas.tolist() if betas.numel() else None,
        "parameters": count_parameters(model),
        "pid": os.getpid(),
    }


def steps_or_budget(record: dict, setting_max: int) -> int:
    """Steps to target, with a run that never reached it counted at its budget (a lower bound)."""
    return record["steps_to_target"] if record["steps_to_target"] is not None else setting_max


def best_lr(records: list[dict], max_steps: int) -> float:
    """The learning rate that reached the target soonest (ties: higher final accuracy)."""
    if not records:
        raise ValueError("best_lr needs at least one record")
    return min(records, key=lambda r: (steps_or_budget(r, max_steps), -r["final_accuracy"]))["lr"]


def setting_dict(setting: StepsSetting) -> dict:
    return asdict(setting)
