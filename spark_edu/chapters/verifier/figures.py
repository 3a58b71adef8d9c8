"""Figures of the verifier-head chapter: the stack at work on one string, and accuracy
against test length and nesting depth. :func:`render` is the chapter's widget; without a
model it draws the shipped seed-0 Dyck-2 verifier. matplotlib loads lazily.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from spark_edu.chapters.verifier.experiments import curve, learning_curve
from spark_edu.chapters.verifier.models import LABELS, TASKS, VerifierModel, load_model
from spark_edu.tasks import dyck
from spark_edu.tasks.dyck import DyckConfig

_COLORS = {
    "transformer": "#4c72b0",
    "lstm": "#8172b2",
    "verifier": "#c44e52",
    "verifier_hard": "#c44e52",
    "verifier_nopos": "#55a868",
    "verifier_nopos_hard": "#55a868",
}
_COLORS.update({k + "_seq": v for k, v in list(_COLORS.items()) if not k.endswith("_hard")})


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
    return {
        "string": string,
        "controls": out.controls[0],
        "content": values @ direction,  # (T, K)
        "occupancy": out.stacks[0, ..., -1],
        "stack_depth": out.stack_depth[0],
        "depth": out.depth[0],
        "true_depth": batch.depth[0],
        "prefix_ok": out.step_logits[0].sigmoid(),
        "valid_prob": out.valid_logits[0].sigmoid().item(),
        "valid": bool(batch.valid[0]),
    }


def plot_stack_trace(model: VerifierModel, string: str, slots: int = 6):
    """Push/pop strengths, stack contents and depth along ``string``; returns the Figure."""
    import matplotlib.pyplot as plt

    from spark_edu.plots import CMAP_SIGNED, MAX_WIDTH, use_book_style

    use_book_style()
    tr = trace_string(model, string)
    T = len(string)
    width = min(MAX_WIDTH - 0.5, max(5.5, 0.3 * T + 2.5))  # grows with the string, up to the column
    fig, axes = plt.subplots(3, 1, figsize=(width, 5.4), sharex=True, gridspec_kw={"height_ratios": [1, 1, 1.2]})
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
    image = ax.imshow(
        content.numpy(),
        cmap=CMAP_SIGNED,
        vmin=-lim,
        vmax=lim,
        aspect="auto",
        interpolation="nearest",
        extent=(-0.5, T - 0.5, slots - 0.5, -0.5),
    )
    ax.set(ylabel="slot (0 = top)")
    ax.grid(False)
    bar = fig.colorbar(image, ax=ax, location="right", fraction=0.04, pad=0.01, anchor=(0.0, 0.5))
    bar.set_ticks([])  # which bracket each colour is: in the slot axis's label, nothing past the figure's edge
    if "[" in string and "(" in string:
        ax.set_ylabel("slot (0 = top)\nred: (   blue: [")
    ax = axes[2]
    ax.step(range(T), tr["true_depth"], where="mid", color="black", label="true depth")
    ax.plot(range(T), tr["stack_depth"], "o", color="#c44e52", ms=4, label="stack depth $d_t$")
    ax.plot(range(T), tr["prefix_ok"], "s", color="#4c72b0", ms=3, label="P(prefix valid)")
    ax.set(ylabel="depth / probability")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_xticks(range(T), list(string))
    ax.set_xlabel("input symbol")
    return fig


@lru_cache(maxsize=1)
def _shipped_verifier() -> VerifierModel:
    """The seed-0 Dyck-2 verifier of ``spark_edu/data/verifier/``, loaded once for the widget."""
    return load_model(language=2)


def render(
    length: int = 16, depth: int = 4, seed: int = 0, corrupted: bool = False, model: VerifierModel | None = None
):
    """Widget view: draw one Dyck-2 string (valid or corrupted) and show the trained stack on it.

    ``model=None`` uses the shipped seed-0 Dyck-2 verifier (loaded once, then reused)."""
    model = _shipped_verifier() if model is None else model
    g = torch.Generator().manual_seed(seed)
    depth = max(1, min(depth, length // 2))
    s = dyck.sample_valid(DyckConfig(2, length, length, depth, depth), g)
    if corrupted:
        s = dyck.corrupt(s, 2, g)
    return plot_stack_trace(model, s)


def plot_generalisation(
    results: dict, language: int, models: tuple[str, ...] = ("transformer", "lstm", "verifier", "verifier_nopos")
):
    """Accuracy vs test length and vs nesting depth, each model, both tasks (mean, 95% interval)."""
    from spark_edu.plots import subplots

    fig, axes = subplots(2, 2, width=3.4, height=2.6)
    train = results["config"]["train"]
    for row, task in enumerate(TASKS):
        for col, (probe, label, limit) in enumerate(
            [
                ("by_length", "test length", train["max_length"]),
                ("by_depth", "maximum nesting depth", train["max_depth"]),
            ]
        ):
            ax = axes[row, col]
            for model in models:
                xs, pts = curve(results, language, model, probe, task)
                mean = [p[0] for p in pts]
                err = [[p[0] - p[1] for p in pts], [p[2] - p[0] for p in pts]]
                ax.errorbar(
                    xs,
                    mean,
                    yerr=err,
                    marker="o",
                    capsize=3,
                    color=_COLORS[model],
                    label=LABELS[model],
                    linestyle="--" if model.endswith("_hard") else "-",
                )
            ax.axvline(limit, color="grey", linestyle=":", label="training maximum")
            ax.set(xlabel=label, ylabel=f"{task} accuracy", ylim=(-0.02, 1.02))
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Dyck-{language}: trained on length ≤ {train['max_length']}, depth ≤ {train['max_depth']}")
    return fig


def plot_learning_curves(
    results: dict,
    models: tuple[str, ...] = ("transformer", "lstm", "verifier", "verifier_nopos", "lstm_seq", "verifier_seq"),
):
    """Validation-part accuracy vs training step per language (mean, 95% band over seeds).

    Solid lines: trained on every label; dashed: on the sequence label only."""
    from spark_edu.plots import subplots

    languages = results["config"]["languages"]
    fig, axes = subplots(1, len(languages), width=6.0 if len(languages) == 1 else 3.4, height=3.0)
    for ax, lang in zip(axes[0], languages):
        for model in models:
            steps, pts = learning_curve(results, lang, model)
            ax.plot(
                steps,
                [p[0] for p in pts],
                color=_COLORS[model],
                linestyle="--" if model.endswith("_seq") else "-",
                label=LABELS[model],
                marker="o",
                ms=3,
            )
            ax.fill_between(steps, [p[1] for p in pts], [p[2] for p in pts], color=_COLORS[model], alpha=0.15)
        ax.set(xlabel="training step", ylabel="validation accuracy", title=f"Dyck-{lang}", ylim=(0.45, 1.02))
    axes[0, -1].legend(fontsize=7, loc="lower right")
    return fig
