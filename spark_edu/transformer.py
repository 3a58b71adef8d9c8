"""A small pre-LayerNorm transformer whose attention layer can be swapped.

Every chapter that trains a model builds it here, so "standard transformer" means the same
thing everywhere: token + position embeddings, ``n_layers`` blocks of
``x + Attn(LN(x))`` then ``x + MLP(LN(x))`` (Vaswani et al., 2017, with pre-LN), and a
final LayerNorm. A chapter replaces the attention by passing ``attention_factory``
(e.g. FK attention, sparse attention) and keeps everything else identical, which is what
makes "matched parameter count and training budget" comparisons honest.

Dimension letters: B batch, T sequence, C model width, H heads, D = C / H head width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from spark_edu.attention.multihead import MultiHeadSelfAttention
from spark_edu.validation import check_positive_int


POSITIONS = ("learned", "rotary")


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int = 32
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    max_len: int = 128
    d_ff: int | None = None  # default 4 * d_model
    causal: bool = False
    out_dim: int | None = None  # size of the linear head on every position; None = no head
    positions: str = "learned"  # "learned": absolute embeddings; "rotary": RoPE in every attention layer

    def __post_init__(self):
        check_positive_int("vocab_size", self.vocab_size)
        check_positive_int("d_model", self.d_model)
        check_positive_int("n_heads", self.n_heads)
        check_positive_int("n_layers", self.n_layers, minimum=0)
        check_positive_int("max_len", self.max_len)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {self.positions!r}")

    @property
    def rotary(self) -> bool:
        return self.positions == "rotary"

    @property
    def ff_width(self) -> int:
        return self.d_ff if self.d_ff is not None else 4 * self.d_model


AttentionFactory = Callable[["TransformerConfig", int], nn.Module]


def standard_attention(config: TransformerConfig, layer: int) -> nn.Module:
    """The default ``attention_factory``: multi-head softmax self-attention."""
    return MultiHeadSelfAttention(config.d_model, config.n_heads, causal=config.causal, rotary=config.rotary)


class Block(nn.Module):
    """Pre-LN block: ``x ← x + Attn(LN₁ x)``, ``x ← x + MLP(LN₂ x)``."""

    def __init__(self, config: TransformerConfig, attn: nn.Module):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = attn
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.ff_width), nn.GELU(), nn.Linear(config.ff_width, config.d_model)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), mask)  # (B, T, C)
        return x + self.mlp(self.ln2(x))  # (B, T, C)


class Transformer(nn.Module):
    """Embeddings, ``n_layers`` blocks, final LayerNorm and an optional per-position head.

    ``forward(tokens)`` takes int64 ids (B, T) and returns (B, T, out_dim) logits when
    ``out_dim`` is set, else the hidden states (B, T, C). With ``positions="rotary"`` there is
    no position embedding: the attention layers rotate queries and keys instead.
    """

    def __init__(self, config: TransformerConfig, attention_factory: AttentionFactory = standard_attention):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = None if config.rotary else nn.Embedding(config.max_len, config.d_model)
        self.blocks = nn.ModuleList(Block(config, attention_factory(config, i)) for i in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.out_dim) if config.out_dim else None

    def hidden_states(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) ids -> (B, T, C) final hidden states."""
        if tokens.dim() != 2 or tokens.dtype not in (torch.int32, torch.int64):
            raise ValueError(
                f"tokens must be an integer tensor of shape (B, T), got {tuple(tokens.shape)} {tokens.dtype}"
            )
        T = tokens.shape[1]
        if T > self.config.max_len:
            raise ValueError(f"sequence length {T} exceeds max_len={self.config.max_len}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.config.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.config.vocab_size - 1}]")
        x = self.tok_emb(tokens)  # (B, T, C)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(T, device=tokens.device))
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_f(x)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.hidden_states(tokens, mask)  # (B, T, C)
        return self.head(h) if self.head is not None else h


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
