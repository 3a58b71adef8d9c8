"""Figures for the truthfulness chapter and the widget's pure ``render`` function.

Plot helpers take an ``ax``; :func:`roc_figure` (the classifiers of
:func:`~spark_edu.chapters.truthfulness.experiments.run`), :func:`noise_figure` (its noise
sweep) and :func:`render` return a ``Figure``. The expensive part of the widget (generate data,
fit the classifier with cross-validation) depends only on noise, sample size and balance and
is cached, so moving the threshold slider only redraws.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from spark_edu.chapters.truthfulness.experiments import TruthResults
from spark_edu.device import one_thread
from spark_edu.plots import CMAP_WEIGHTS, COLORS, subplot_mosaic, subplots
from spark_edu.truthfulness.classifiers import TfidfLogisticRegression, cross_val_probs
from spark_edu.truthfulness.liar_like import bayes_optimal, liar_like_statements
from spark_edu.truthfulness.metrics import (
    accuracy,
    confusion_matrix,
    f1_score,
    precision,
    recall,
    roc_auc,
    roc_curve,
)
from spark_edu.validation import check_range


def plot_roc(ax, labels, scores, label: str, threshold: float | None = None, color=None):
    """ROC curve with its AUC in the legend; a dot marks the operating point at ``threshold``."""
    fpr, tpr, _ = roc_curve(labels, scores)
    auc = roc_auc(labels, scores)
    line = ax.plot(fpr.numpy(), tpr.numpy(), color=color, label=f"{label} (AUC {auc:.3f})")[0]
    if threshold is not None:
        pred = (torch.as_tensor(scores) >= threshold).long()
        (tn, fp), (fn, tp) = confusion_matrix(labels, pred).tolist()
        ax.plot([fp / max(1, fp + tn)], [tp / max(1, tp + fn)], "o", color=line.get_color(), markersize=7)
    ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_aspect("equal")
    return line


def plot_confusion(ax, cm: torch.Tensor, title: str = "confusion matrix"):
    """Counts with true label on y and predicted label on x."""
    counts = cm.tolist()
    top = max(max(row) for row in counts)
    ax.imshow(counts, cmap=CMAP_WEIGHTS, vmin=0)
    for i in range(2):
        for j in range(2):
            ax.text(
                j, i, str(counts[i][j]), ha="center", va="center", color="white" if counts[i][j] < top / 2 else "black"
            )
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["false", "true"],
        yticklabels=["false", "true"],
        xlabel="predicted",
        ylabel="actual",
        title=title,
    )
    ax.grid(False)


def plot_metric_bars(ax, values: dict[str, float], bayes: float | None = None):
    """One labelled bar per metric; dashed line at the Bayes-optimal accuracy, dotted at chance."""
    names = list(values)
    ax.bar(range(len(names)), [values[n] for n in names], color=COLORS["measured"])
    for i, n in enumerate(names):
        ax.text(i, values[n] / 2, f"{values[n]:.2f}", ha="center", va="center", color="white", fontsize=8)
    if bayes is not None:
        ax.axhline(bayes, linestyle="--", color="black", linewidth=1)
        ax.text(len(names) - 0.5, bayes + 0.01, f"Bayes acc. {bayes:.2f}", ha="right", va="bottom", fontsize=8)
    ax.axhline(0.5, linestyle=":", color="grey", linewidth=1)
    ax.set(xticks=range(len(names)), xticklabels=names, ylim=(0, 1.08))


def roc_figure(results: TruthResults, threshold: float = 0.5):
    """ROC curves of every classifier run on each data set; dots at ``threshold``."""
    fig, axes = subplots(1, 2, width=3.4, height=3.4)
    colors = {"logistic regression": COLORS["baseline"], "transformer": COLORS["dense"]}
    for ax, d_name in zip(axes[0], results.data):
        labels = results.data[d_name].labels
        for c_name in colors:
            if (d_name, c_name) in results.probs:
                plot_roc(ax, labels, results.probs[d_name, c_name], c_name, threshold, colors[c_name])
        ax.set_title(f"{d_name} labels")
        ax.legend(loc="lower right", fontsize=8)
    return fig


def noise_figure(rows: list[dict]):
    """Measured accuracy vs label noise, beside the Bayes-optimal line 1 − η/2."""
    fig, axes = subplots(1, 1, width=4.6, height=3.2)
    ax = axes[0, 0]
    x = [r["noise"] for r in rows]
    acc = [r["accuracy"] for r in rows]
    err = [[r["accuracy"] - r["low"] for r in rows], [r["high"] - r["accuracy"] for r in rows]]
    ax.errorbar(x, acc, yerr=err, marker="o", capsize=3, color=COLORS["baseline"], label="logistic regression (95% CI)")
    ax.plot(x, [r["bayes"] for r in rows], "--", color="black", label="Bayes-optimal 1 − η/2")
    ax.axhline(0.5, linestyle=":", color="grey", linewidth=1)
    ax.set(xlabel="label noise η (fraction of labels assigned at random)", ylabel="accuracy", ylim=(0.4, 1.02))
    ax.legend(fontsize=8)
    return fig


@lru_cache(maxsize=32)
def widget_scores(noise: float, n_samples: int, balance: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels, out-of-fold P(true)) of TF-IDF logistic regression, cached per setting."""
    data = liar_like_statements(n_samples, noise=noise, balance=balance, seed=seed)
    with one_thread():
        probs = cross_val_probs(TfidfLogisticRegression.fit, data.texts, data.labels, n_folds=5, seed=seed)
    return data.labels, probs


def render(noise: float = 0.2, n_samples: int = 1000, balance: float = 0.5, threshold: float = 0.5):
    """ROC with the operating point, confusion matrix and metrics at one setting; returns the Figure."""
    check_range("threshold", threshold, 0.0, 1.0)
    labels, probs = widget_scores(round(float(noise), 4), int(n_samples), round(float(balance), 4))
    pred = (probs >= threshold).long()
    cm = confusion_matrix(labels, pred)
    fig, axes = subplot_mosaic([["roc", "confusion", "metrics"]], width=2.45, height=2.7)
    plot_roc(axes["roc"], labels, probs, "LR", threshold, color=COLORS["measured"])  # short: a narrow panel
    axes["roc"].set_title(f"ROC, threshold {threshold:.2f}")
    axes["roc"].legend(loc="lower right", fontsize=8)
    plot_confusion(axes["confusion"], cm)
    values = {
        "accuracy": accuracy(labels, pred),
        "precision": precision(labels, pred),
        "recall": recall(labels, pred),
        "F1": f1_score(labels, pred),
    }
    try:
        values["AUC"] = roc_auc(labels, probs)
    except ValueError:  # a tiny sample with one class only
        values["AUC"] = float("nan")
    plot_metric_bars(axes["metrics"], values, bayes_optimal(noise, balance)["accuracy"])
    axes["metrics"].set_title(f"noise {noise:.2f}, n {n_samples},\nbalance {balance:.2f}")
    axes["metrics"].tick_params(axis="x", labelrotation=45)
    return fig
