"""Multi-head self-attention, the layer every chapter's transformer uses (Vaswani et al., 2017).

Dimension letters: B batch, T sequence, C model width, H heads, D = C / H head width.
The default path is ``F.scaled_dot_product_attention``; ``reference=True`` runs the readable
:func:`spark_edu.attention.attention` (eq-attention-sdpa) and a test shows the two agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spark_edu.attention.dense import attention
from spark_edu.attention.rotary import rotary_angles, rotate
from spark_edu.validation import check_input, check_positive_int


class MultiHeadSelfAttention(nn.Module):
    """``MHA(x) = concat_h softmax(Q_h K_hᵀ/√D + log M) V_h · W_O`` (eq-attention-sdpa per head).

    ``reference=True`` uses :func:`spark_edu.attention.attention` (readable, returns weights);
    the default uses ``F.scaled_dot_product_attention``; a test shows the two agree.
    ``rotary=True`` rotates each head's queries and keys by their positions
    (:mod:`spark_edu.attention.rotary`), so scores see only relative positions.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = False, reference: bool = False, rotary: bool = False):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if rotary and (d_model // n_heads) % 2:
            raise ValueError(f"rotary needs an even head width, got d_model / n_heads = {d_model // n_heads}")
        self.n_heads, self.causal, self.reference, self.rotary = n_heads, causal, reference, rotary
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model)

    def split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, C) -> three (B, H, T, D) tensors q, k, v (q and k rotated if ``rotary``)."""
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in self.qkv(x).split(C, dim=-1))
        if self.rotary:
            angles = rotary_angles(T, C // self.n_heads, device=x.device)  # (T, D/2)
            q, k = rotate(q, angles), rotate(k, angles)
        return q, k, v

    def merge_heads(self, y: torch.Tensor) -> torch.Tensor:
        """(B, H, T, D) -> (B, T, C) through the output projection."""
        B, H, T, D = y.shape
        return self.out(y.transpose(1, 2).reshape(B, T, H * D))

    def check_input(self, x: torch.Tensor) -> None:
        """x must be a finite (B, T, C) tensor with the layer's width and dtype."""
        check_input("x", x, self.qkv.weight)
        if x.dim() != 3 or x.shape[-1] != self.qkv.in_features:
            raise ValueError(f"x must have shape (B, T, C) with C = {self.qkv.in_features}, got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x)
        q, k, v = self.split_heads(x)  # (B, H, T, D)
        T = x.shape[1]
        if self.causal:
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()  # (T, T)
            mask = causal if mask is None else mask & causal
        if self.reference:
            y, _ = attention(q, k, v, mask)  # (B, H, T, D)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, T, D)
        return self.merge_heads(y)
