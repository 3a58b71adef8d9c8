"""The two models of the verifier-head chapter, their configuration and the shipped weights.

* ``verifier``: a small :class:`spark_edu.transformer.Transformer` encoder, then
  :class:`spark_edu.verifier.VerifierHead` (stack + readout); ``verifier_nopos`` is the same
  without position embeddings;
* ``standard``: the same encoder with a wider MLP (``d_ff`` chosen so the parameter counts
  match within 1%) and the same :class:`~spark_edu.verifier.Readout`, fed hidden states only.

:func:`load_model` rebuilds a trained verifier from its saved weights (by default the seed-0
verifier shipped in ``spark_edu/data/verifier/``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from spark_edu import results
from spark_edu.tasks import dyck
from spark_edu.tasks.dyck import DyckBatch, DyckConfig
from spark_edu.transformer import Transformer, TransformerConfig, count_parameters
from spark_edu.verifier import Readout, VerifierHead, VerifierOutput

MODELS = ("standard", "verifier", "verifier_nopos")
LABELS = {
    "standard": "standard transformer",
    "verifier": "verifier head",
    "verifier_nopos": "verifier, no positions",
    "verifier_hard": "verifier head, discrete stack at test",
    "verifier_nopos_hard": "no positions, discrete stack at test",
}
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


QUICK = ExperimentConfig(
    steps=300,
    seeds=(0, 1),
    languages=(2,),
    n_test=1000,
    n_probe=100,
    probe_lengths=(20, 48, 80),
    probe_depths=(4, 8, 12),
    models=("standard", "verifier"),
)  # about a minute on one core


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
    out = (
        model(batch.tokens, batch.mask, hard=hard)
        if isinstance(model, VerifierModel)
        else model(batch.tokens, batch.mask)
    )
    return (out.depth, out.step_logits, out.valid_logits) if isinstance(out, VerifierOutput) else out


def build_models(cfg: ExperimentConfig, seed: int) -> dict[str, nn.Module]:
    """Both models, seeded; the standard model's ``d_ff`` is the one that best matches sizes."""
    base = TransformerConfig(
        vocab_size=len(dyck.ALPHABET) + 1,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        n_layers=cfg.n_layers,
        max_len=cfg.max_len,
    )
    torch.manual_seed(seed)
    verifier = VerifierModel(base, cfg.stack_size, cfg.element_dim)
    target = count_parameters(verifier)
    width = lambda d_ff: count_parameters(StandardModel(replace(base, d_ff=d_ff)))  # noqa: E731
    d_ff = min(range(base.ff_width, 4 * base.ff_width), key=lambda f: abs(width(f) - target))
    torch.manual_seed(seed)
    standard = StandardModel(replace(base, d_ff=d_ff))
    torch.manual_seed(seed)
    return {
        "standard": standard,
        "verifier": verifier,
        "verifier_nopos": VerifierModel(base, cfg.stack_size, cfg.element_dim, positions=False),
    }


def weights_name(language: int, name: str = "verifier") -> str:
    """File name of a saved model's weights: ``verifier_dyck<language>.pt``."""
    return f"{name}_dyck{language}.pt"


def load_model(
    path: str | Path | None = None,
    cfg: ExperimentConfig = ExperimentConfig(),
    positions: bool = True,
    language: int = 2,
) -> VerifierModel:
    """A trained verifier saved by :func:`~spark_edu.chapters.verifier.experiments.run_one`.

    ``path=None`` loads the seed-0 verifier for Dyck-``language`` that ships with the package.
    """
    if path is None:
        path = results.saved_file("verifier", weights_name(language))
    model = build_models(cfg, 0)["verifier" if positions else "verifier_nopos"]
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()
