"""Experiments for the verifier-head chapter: a stack-augmented model against a standard
transformer of the same size and training budget, on Dyck-1 and Dyck-2.

Two models, trained on exactly the same batches with :func:`spark_edu.verifier.verifier_loss`:

* ``verifier``: a small :class:`spark_edu.transformer.Transformer` encoder, then
  :class:`spark_edu.verifier.VerifierHead` (stack + readout);
* ``standard``: the same encoder with a wider MLP (``d_ff`` chosen so the parameter counts
  match within 1%) and the same :class:`~spark_edu.verifier.Readout`, fed hidden states only.

Two tasks, measured on the same test strings: **validation** (is the string balanced?
accuracy of the sequence logit) and **depth** (the fraction of strings whose nesting depth
is predicted exactly at every position). Then length and depth generalisation: train on
short, shallow strings, test on longer or deeper ones.

``python -m spark_edu.experiments.verifier --out book/data/verifier`` runs the full
comparison (3 seeds, two processes, about 20 minutes on 2 cores) and writes ``results.json``
and the seed-0 verifiers' weights, which the chapter reads.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from spark_edu.measure import mean_interval
from spark_edu.claims import Measurement
from spark_edu.tasks import dyck
from spark_edu.tasks.dyck import DyckBatch, DyckConfig
from spark_edu.train import TrainConfig, train
from spark_edu.transformer import Transformer, TransformerConfig, count_parameters
from spark_edu.verifier import Readout, VerifierHead, VerifierOutput, verifier_loss

MODELS = ("standard", "verifier", "verifier_nopos")
LABELS = {"standard": "standard transformer", "verifier": "verifier head", "verifier_nopos": "verifier, no positions",
          "verifier_hard": "verifier head, discrete stack at test",
          "verifier_nopos_hard": "no positions, discrete stack at test"}
TASKS = ("validation", "depth")


@dataclass(frozen=True)
class ExperimentConfig:
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 1  # encoder layers (both models)
    stack_size: int = 16
    element_dim: int = 8
    max_len: int = 96  # position table; covers the longest generalisation test
    steps: int = 1000
    batch_size: int = 64
    lr: float = 3e-3
    train: DyckConfig = DyckConfig(min_length=2, max_length=20, min_depth=1, max_depth=4)  # short, shallow
    n_test: int = 1000  # test strings per (language, seed), half valid
    n_probe: int = 200  # strings per length / depth bin in the generalisation probes
    probe_lengths: tuple[int, ...] = (20, 32, 48, 64, 80)
    probe_depths: tuple[int, ...] = (2, 4, 6, 8, 10, 12)
    seeds: tuple[int, ...] = (0, 1, 2)
    languages: tuple[int, ...] = (1, 2)  # Dyck-1, Dyck-2
    models: tuple[str, ...] = MODELS  # which of the three models to train


QUICK = ExperimentConfig(steps=300, seeds=(0, 1), languages=(2,), n_test=1000, n_probe=100,
                         probe_lengths=(20, 48, 80), probe_depths=(4, 8, 12),
                         models=("standard", "verifier"))  # about a minute on one core


class VerifierModel(nn.Module):
    """Transformer encoder -> :class:`VerifierHead`. ``forward`` returns a :class:`VerifierOutput`."""

    def __init__(self, config: TransformerConfig, stack_size: int = 16, element_dim: int = 8, positions: bool = True):
        super().__init__()
        self.encoder = Transformer(config)
        if not positions:  # the stack is then the model's only source of order
            self.encoder.pos_emb.weight.data.zero_()
            self.encoder.pos_emb.weight.requires_grad_(False)
        self.head = VerifierHead(config.d_model, stack_size, element_dim)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, hard: bool = False) -> VerifierOutput:
        h = self.encoder(tokens, mask[:, None, None, :])  # (B, T, C), padding keys masked out
        return self.head(h, mask, hard=hard)


class StandardModel(nn.Module):
    """Transformer encoder -> the same :class:`Readout` on hidden states alone (no stack)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.encoder = Transformer(config)
        self.readout = Readout(config.d_model, max(1, config.d_model // 2))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor):
        h = self.encoder(tokens, mask[:, None, None, :])  # (B, T, C)
        return self.readout(h, mask)


def predictions(model: nn.Module, batch: DyckBatch, hard: bool = False):
    """``(depth, step_logits, valid_logits)`` for either model (``hard``: discrete stack)."""
    out = model(batch.tokens, batch.mask, hard=hard) if isinstance(model, VerifierModel) else model(batch.tokens, batch.mask)
    return (out.depth, out.step_logits, out.valid_logits) if isinstance(out, VerifierOutput) else out


def build_models(cfg: ExperimentConfig, seed: int) -> dict[str, nn.Module]:
    """Both models, seeded; the standard model's ``d_ff`` is the one that best matches sizes."""
    base = TransformerConfig(vocab_size=len(dyck.ALPHABET) + 1, d_model=cfg.d_model, n_heads=cfg.n_heads,
                             n_layers=cfg.n_layers, max_len=cfg.max_len)
    torch.manual_seed(seed)
    verifier = VerifierModel(base, cfg.stack_size, cfg.element_dim)
    target = count_parameters(verifier)
    width = lambda d_ff: count_parameters(StandardModel(replace(base, d_ff=d_ff)))  # noqa: E731
    d_ff = min(range(base.ff_width, 4 * base.ff_width), key=lambda f: abs(width(f) - target))
    torch.manual_seed(seed)
    standard = StandardModel(replace(base, d_ff=d_ff))
    torch.manual_seed(seed)
    return {"standard": standard, "verifier": verifier,
            "verifier_nopos": VerifierModel(base, cfg.stack_size, cfg.element_dim, positions=False)}


def train_model(model: nn.Module, cfg: ExperimentConfig, language: int, seed: int):
    """Train on fresh balanced batches of short, shallow strings; returns the history."""
    data = replace(cfg.train, n_types=language)

    def make_batch(g):
        return dyck.make_dataset(cfg.batch_size, data, g)

    def loss_fn(m, batch):
        depth, step, valid = predictions(m, batch)
        return verifier_loss(depth, step, valid, batch.depth, batch.prefix_ok, batch.valid, batch.mask)

    return train(model, make_batch, loss_fn, TrainConfig(steps=cfg.steps, lr=cfg.lr, seed=seed, warmup_steps=50),
                 desc=f"Dyck-{language}")


@torch.no_grad()
def evaluate(model: nn.Module, batch: DyckBatch, hard: bool = False, chunk: int = 250) -> dict[str, float]:
    """Validation accuracy and exact-depth accuracy (every position right) over ``batch``."""
    model.eval()
    right_valid, right_depth = [], []
    for i in range(0, len(batch.strings), chunk):
        part = dyck.encode(batch.strings[i:i + chunk])
        depth, _, valid = predictions(model, part, hard)
        right_valid.append((valid > 0) == part.valid)
        ok = (depth.round() == part.depth) | ~part.mask
        right_depth.append(ok.all(dim=1))
    return {"validation": torch.cat(right_valid).float().mean().item(),
            "depth": torch.cat(right_depth).float().mean().item()}


def probe_sets(cfg: ExperimentConfig, language: int, seed: int) -> dict[str, dict[int, DyckBatch]]:
    """Test sets for generalisation: by length (depth ≤ the training maximum) and by depth."""
    g = torch.Generator().manual_seed(10_000 + seed)
    shallow = cfg.train.max_depth
    by_length = {n: dyck.make_dataset(cfg.n_probe, DyckConfig(language, n, n, 1, shallow), g)
                 for n in cfg.probe_lengths}
    by_depth = {d: dyck.make_dataset(cfg.n_probe, DyckConfig(language, 2 * d, max(2 * d, 2 * d + 8), d, d), g)
                for d in cfg.probe_depths}
    return {"length": by_length, "depth": by_depth}


def run_one(cfg: ExperimentConfig, language: int, seed: int, save_dir: str | None = None) -> dict:
    """Train every model for one (language, seed); evaluate in distribution and on the probes.

    With ``save_dir``, the trained verifier of seed 0 is saved there (``verifier_dyck<k>.pt``)."""
    models = build_models(cfg, seed)
    test = dyck.make_dataset(cfg.n_test, replace(cfg.train, n_types=language),
                             torch.Generator().manual_seed(1_000 + seed))
    probes = probe_sets(cfg, language, seed)
    record = {"language": language, "seed": seed}
    for name, model in models.items():
        if name not in cfg.models:
            continue
        torch.set_num_threads(1)
        history = train_model(model, cfg, language, seed)
        if save_dir is not None and seed == 0 and name == "verifier":
            torch.save(model.state_dict(), Path(save_dir) / f"{name}_dyck{language}.pt")
        for hard in (False, True) if name != "standard" else (False,):  # hard: discrete stack at test time
            record[name + ("_hard" if hard else "")] = {
                "parameters": count_parameters(model),
                "final_loss": history.final_loss,
                "test": evaluate(model, test, hard),
                "by_length": {n: evaluate(model, b, hard) for n, b in probes["length"].items()},
                "by_depth": {d: evaluate(model, b, hard) for d, b in probes["depth"].items()},
            }
    return record


def run_all(cfg: ExperimentConfig = ExperimentConfig(), jobs: int = 1, save_dir: str | None = None) -> dict:
    """Every (language, seed) of ``cfg``, in ``jobs`` processes; JSON-ready."""
    tasks = [(cfg, lang, seed, save_dir) for lang in cfg.languages for seed in cfg.seeds]
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            runs = pool.starmap(run_one, tasks)
    else:
        runs = [run_one(*t) for t in tasks]
    return {"config": asdict(cfg), "runs": runs}


def load_model(path: str | Path, cfg: ExperimentConfig = ExperimentConfig(), positions: bool = True) -> "VerifierModel":
    """A trained verifier saved by :func:`run_one` (for the chapter's figures)."""
    model = build_models(cfg, 0)["verifier" if positions else "verifier_nopos"]
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()


def accuracy_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval over seeds, clipped to [0, 1]."""
    return mean_interval(values, 0.0, 1.0)


def summary(results: dict, models: tuple[str, ...] | None = None) -> list[dict]:
    """One row per (language, task, model): mean accuracy and 95% interval over seeds."""
    models = tuple(m for m in MODELS if m in results["runs"][0]) if models is None else models
    rows = []
    for lang in sorted({r["language"] for r in results["runs"]}):
        runs = [r for r in results["runs"] if r["language"] == lang]
        for task in TASKS:
            for model in models:
                m, lo, hi = accuracy_interval([r[model]["test"][task] for r in runs])
                rows.append({"language": lang, "task": task, "model": model, "mean": m, "low": lo, "high": hi,
                             "seeds": len(runs), "parameters": runs[0][model]["parameters"]})
    return rows


def curve(results: dict, language: int, model: str, probe: str, task: str) -> tuple[list[int], list[tuple]]:
    """Accuracy vs length (``probe="by_length"``) or depth, mean and interval over seeds."""
    runs = [r for r in results["runs"] if r["language"] == language]
    keys = sorted(int(k) for k in runs[0][model][probe])
    pts = [accuracy_interval([r[model][probe][k if k in r[model][probe] else str(k)][task] for r in runs]) for k in keys]
    return keys, pts


def measurements(results: dict) -> list[Measurement]:
    """The three claims of section 3, from the summary: ranges over (language, task)."""
    rows = summary(results)
    by = {(r["language"], r["task"], r["model"]): r for r in rows}
    cells = sorted({(r["language"], r["task"]) for r in rows})
    n_seeds, n_test = rows[0]["seeds"], results["config"]["n_test"]
    detail = f"range over {len(cells)} (language, task) cells; {n_seeds} seeds × {n_test} test strings each"
    out = []
    for key, model in (("spark.verifier.standard_accuracy", "standard"), ("spark.verifier.verifier_accuracy", "verifier")):
        means = [by[c + (model,)]["mean"] for c in cells]
        out.append(Measurement(key, statistics.fmean(means), min(means), max(means), reason=detail))
    diffs = [by[c + ("verifier",)]["mean"] - by[c + ("standard",)]["mean"] for c in cells]
    out.append(Measurement("spark.verifier.improvement", statistics.fmean(diffs), min(diffs), max(diffs), reason=detail))
    return out


def reproduce(quick: bool = False) -> list[Measurement]:
    """Measure every ``spark.verifier.*`` claim (quick: Dyck-2 only, 2 seeds, 300 steps, no third model)."""
    return measurements(run_all(QUICK if quick else ExperimentConfig()))


def data_dir() -> Path:
    """``book/data/verifier`` seen from the repository root or from ``book/`` (where notebooks run)."""
    for candidate in (Path("data/verifier"), Path("book/data/verifier")):
        if (candidate / "results.json").exists():
            return candidate
    raise FileNotFoundError("no results.json: run `python -m spark_edu.experiments.verifier --out book/data/verifier`")


def load_results(path: str | Path | None = None) -> dict:
    """The saved full comparison (``results.json``)."""
    return json.loads(Path(data_dir() / "results.json" if path is None else path).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="book/data/verifier", help="folder for results.json")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="parallel processes (one core each)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = run_all(QUICK if args.quick else ExperimentConfig(), jobs=args.jobs, save_dir=str(out))
    (out / "results.json").write_text(json.dumps(results, indent=1))
    for row in summary(results):
        print(f"Dyck-{row['language']} {row['task']:<10} {row['model']:<8} {row['mean']:.3f} [{row['low']:.3f}, {row['high']:.3f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


_COLORS = {"standard": "#4c72b0", "verifier": "#c44e52", "verifier_hard": "#c44e52",
           "verifier_nopos": "#55a868", "verifier_nopos_hard": "#55a868"}


# --- figures -----------------------------------------------------------------------------

@torch.no_grad()
def trace_string(model: VerifierModel, string: str) -> dict:
    """Run a trained verifier on one string; everything the stack figure draws, per step."""
    model.eval()
    batch = dyck.encode([string])
    out = model(batch.tokens, batch.mask)
    values = out.stacks[0, ..., :-1]  # (T, K, M) stored vectors
    pushed = [i for i, ch in enumerate(string) if ch in "(["]
    opens = {ch: [i for i in pushed if string[i] == ch] for ch in "(["}
    top = lambda idx: out.stacks[0, idx, 0, :-1].mean(dim=0)  # noqa: E731 - mean vector pushed for those symbols
    if opens["("] and opens["["]:
        direction = top(opens["("]) - top(opens["["])  # separates the two bracket types
    else:
        direction = top(pushed) if pushed else torch.ones(values.shape[-1])
    direction = direction / direction.norm().clamp_min(1e-8)
    return {"string": string, "controls": out.controls[0], "content": values @ direction,  # (T, K)
            "occupancy": out.stacks[0, ..., -1], "stack_depth": out.stack_depth[0], "depth": out.depth[0],
            "true_depth": batch.depth[0], "prefix_ok": out.step_logits[0].sigmoid(),
            "valid_prob": out.valid_logits[0].sigmoid().item(), "valid": bool(batch.valid[0])}


def plot_stack_trace(model: VerifierModel, string: str, slots: int = 6):
    """Push/pop strengths, stack contents and depth along ``string``; returns the Figure."""
    import matplotlib.pyplot as plt

    from spark_edu.plots import CMAP_SIGNED, use_book_style

    use_book_style()
    tr = trace_string(model, string)
    T = len(string)
    fig, axes = plt.subplots(3, 1, figsize=(max(5.5, 0.3 * T + 2.5), 5.4), sharex=True,
                             gridspec_kw={"height_ratios": [1, 1, 1.2]})
    fig.subplots_adjust(left=0.12, right=0.76, top=0.93, bottom=0.09, hspace=0.15)
    ax, bottom = axes[0], torch.zeros(T)
    for k, (name, color) in enumerate([("push", "#55a868"), ("pop", "#c44e52"), ("no-op", "#bbbbbb")]):
        ax.bar(range(T), tr["controls"][:, k], bottom=bottom, color=color, label=name, width=0.8)
        bottom += tr["controls"][:, k]
    truth = "valid" if tr["valid"] else "invalid"
    ax.set(ylabel="strength $a_t$", ylim=(0, 1), title=f"P(valid) = {tr['valid_prob']:.2f}   (truth: {truth})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax = axes[1]
    content = (tr["content"] * tr["occupancy"])[:, :slots].T  # (slots, T)
    lim = float(content.abs().max().clamp_min(1e-6))
    image = ax.imshow(content.numpy(), cmap=CMAP_SIGNED, vmin=-lim, vmax=lim, aspect="auto",
                      interpolation="nearest", extent=(-0.5, T - 0.5, slots - 0.5, -0.5))
    ax.set(ylabel="slot (0 = top)")
    ax.grid(False)
    bar = fig.colorbar(image, ax=ax, location="right", fraction=0.04, pad=0.01, anchor=(0.0, 0.5))
    bar.set_ticks([-lim, lim], labels=["[", "("] if "[" in string and "(" in string else ["", ""])
    ax = axes[2]
    ax.step(range(T), tr["true_depth"], where="mid", color="black", label="true depth")
    ax.plot(range(T), tr["stack_depth"], "o", color="#c44e52", ms=4, label="stack depth $d_t$")
    ax.plot(range(T), tr["prefix_ok"], "s", color="#4c72b0", ms=3, label="P(prefix valid)")
    ax.set(ylabel="depth / probability")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_xticks(range(T), list(string))
    ax.set_xlabel("input symbol")
    return fig


def render_stack(model: VerifierModel, length: int = 16, depth: int = 4, seed: int = 0, corrupted: bool = False):
    """Widget view: draw one Dyck-2 string (valid or corrupted) and show the trained stack on it."""
    g = torch.Generator().manual_seed(seed)
    depth = max(1, min(depth, length // 2))
    s = dyck.sample_valid(DyckConfig(2, length, length, depth, depth), g)
    if corrupted:
        s = dyck.corrupt(s, 2, g)
    return plot_stack_trace(model, s)


def plot_generalisation(results: dict, language: int,
                        models: tuple[str, ...] = ("standard", "verifier", "verifier_nopos")):
    """Accuracy vs test length and vs nesting depth, both models, both tasks (mean, 95% interval)."""
    from spark_edu.plots import subplots

    fig, axes = subplots(2, 2, width=3.4, height=2.6)
    train = results["config"]["train"]
    for row, task in enumerate(TASKS):
        for col, (probe, label, limit) in enumerate([("by_length", "test length", train["max_length"]),
                                                     ("by_depth", "maximum nesting depth", train["max_depth"])]):
            ax = axes[row, col]
            for model in models:
                xs, pts = curve(results, language, model, probe, task)
                mean = [p[0] for p in pts]
                err = [[p[0] - p[1] for p in pts], [p[2] - p[0] for p in pts]]
                ax.errorbar(xs, mean, yerr=err, marker="o", capsize=3, color=_COLORS[model], label=LABELS[model],
                            linestyle="--" if model.endswith("_hard") else "-")
            ax.axvline(limit, color="grey", linestyle=":", label="training maximum")
            ax.set(xlabel=label, ylabel=f"{task} accuracy", ylim=(-0.02, 1.02))
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Dyck-{language}: trained on length ≤ {train['max_length']}, depth ≤ {train['max_depth']}")
    return fig
