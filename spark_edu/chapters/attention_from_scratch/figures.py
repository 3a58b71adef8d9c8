"""The first chapter's figure and widget: scores, mask and weights of a toy sequence."""

from __future__ import annotations

import math

import torch

from spark_edu.attention import attention, causal, dense_mask
from spark_edu.chapters.attention_from_scratch.experiments import toy_qkv
from spark_edu.plots import plot_mask, plot_matrix, subplots


def render(length: int = 8, masking: str = "causal", dim: int = 4, seed: int = 0):
    """Figure: scores, mask and attention weights for a toy sequence (the chapter's widget)."""
    if masking not in ("none", "causal"):
        raise ValueError(f"masking must be 'none' or 'causal', got {masking!r}")
    q, k, v = toy_qkv(length, dim, seed)
    mask = dense_mask(causal, length) if masking == "causal" else torch.ones(length, length, dtype=torch.bool)
    _, weights = attention(q, k, v, mask)  # (T, T)
    scores = q @ k.T / math.sqrt(dim)  # (T, T)
    fig, axes = subplots(1, 3, width=2.45, height=2.5)
    plot_matrix(axes[0, 0], scores, "scores QKᵀ/√d", cmap="RdBu_r")
    plot_mask(axes[0, 1], mask, f"mask ({masking})")
    plot_matrix(axes[0, 2], weights, "weights softmax(·)", vmin=0, vmax=1)
    return fig
