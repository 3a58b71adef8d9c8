"""The SPD router: split a signal into a structured part and a pseudo-random rest.

Tao's dichotomy (Tao, 2007) says an object is a structured part plus a part
that looks random to simple tests. The SPaR-K prototype (Madhusudanan, 2025) turns that into
a layer: project each token onto a small basis (a DCT, Ahmed et al. 1974, or a learned
one), gate the coefficients into a *structured* path, send a gated linear projection into a
high-capacity *pseudo-random* path, and recombine. This module holds

* :func:`dct_basis` — the orthonormal DCT-II basis (``x @ dct_basis(n)`` equals
  ``scipy.fft.dct(x, norm="ortho")``), eq-spd-dct;
* :func:`split` — structured part and residual for any gate, eq-spd-split (the classical
  denoisers in :mod:`spark_edu.spd.baselines` are this with a hand-made gate);
* :class:`SPDRouter` — the layer, ``forward(x (B,T,C)) -> (y (B,T,C), separation_loss)``,
  with the prototype's shapes (93,408 parameters at ``d_model=128`` with a learned basis)
  and its separation objective eq-spd-separation returned as a tensor that trains.

How well a split recovered the structure is measured in :mod:`spark_edu.spd.metrics`.
Dimension letters: B batch, T tokens, C = d_model, S structured width, P pseudo width,
N signal length.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from spark_edu.validation import FLOAT_DTYPES, DTypeError, check_float, check_input, check_positive_int, check_range

BASES = ("dct", "learned")


def dct_basis(n: int, k: int | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The first ``k`` orthonormal DCT-II basis vectors as columns of an (n, k) matrix Φ.

    eq-spd-dct: ``Φ[t, f] = α_f cos(π f (2t + 1) / (2n))`` with ``α_0 = √(1/n)`` and
    ``α_f = √(2/n)`` otherwise, so ``ΦᵀΦ = I_k`` and ``x @ Φ`` is the orthonormal DCT-II.
    """
    check_positive_int("n", n)
    if dtype not in FLOAT_DTYPES:  # an integer basis would round every entry to 0 or ±1
        raise DTypeError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    k = n if k is None else k
    check_positive_int("k", k)
    if k > n:
        raise ValueError(f"k must lie in [1, n={n}], got {k}")
    t = torch.arange(n, dtype=torch.float64)[:, None]  # (n, 1)
    f = torch.arange(k, dtype=torch.float64)[None, :]  # (1, k)
    basis = torch.cos(math.pi * f * (2 * t + 1) / (2 * n))  # (n, k)
    alpha = torch.full((1, k), math.sqrt(2.0 / n), dtype=torch.float64)
    alpha[0, 0] = math.sqrt(1.0 / n)
    return (alpha * basis).to(dtype)


def split(x: torch.Tensor, basis: torch.Tensor, gate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """eq-spd-split: ``structured = Φ (g ⊙ Φᵀ x)`` and ``pseudo = x − structured``.

    ``x`` (..., N), ``basis`` (N, K), ``gate`` (..., K) in [0, 1]. The two parts sum to ``x``
    exactly; with an orthonormal square Φ and ``g = 1`` the structured part is ``x``.
    """
    check_float("x", x)
    check_float("basis", basis, like=("x", x))
    check_float("gate", gate, like=("x", x))
    try:
        torch.broadcast_shapes(gate.shape, x.shape[:-1] + basis.shape[1:])
        fits = basis.dim() == 2 and basis.shape[0] == x.shape[-1] and gate.shape[-1] == basis.shape[1]
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"x (..., N), basis (N, K) and gate (..., K) must agree, got "
            f"{tuple(x.shape)}, {tuple(basis.shape)}, {tuple(gate.shape)}"
        )
    coefficients = x @ basis  # (..., K)
    structured = (gate * coefficients) @ basis.T  # (..., N)
    return structured, x - structured


class SPDParts(NamedTuple):
    """Everything one pass of :class:`SPDRouter` computes (shapes for input (B, T, C))."""

    coefficients: torch.Tensor  # (B, T, S)  x projected on the basis
    gate: torch.Tensor  # (B, T, S)  structured gate in (0, 1)
    x_struct: torch.Tensor  # (B, T, S)  gated coefficients
    x_pseudo: torch.Tensor  # (B, T, P)  gated pseudo-random projection
    structured: torch.Tensor  # (B, T, C)  the structured part back in input space
    y: torch.Tensor  # (B, T, C)  recombined output
    separation_loss: torch.Tensor  # ()    eq-spd-separation, carries gradient


def _gate_mlp(d_model: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_model, d_model // 2), nn.ReLU(), nn.Linear(d_model // 2, width))


class SPDRouter(nn.Module):
    """Structure / pseudo-randomness decomposition router (eq-spd-router).

    ``forward(x (B, T, C)) -> (y (B, T, C), separation_loss ())``; use it in a transformer
    block like an MLP (``x + y``) and add ``separation_loss`` to the task loss. ``decompose``
    returns every intermediate (:class:`SPDParts`).

    ``basis="learned"`` (the prototype's default) learns the (C, S) basis, initialised at the
    DCT, plus an (S, S) coefficient mixer; ``basis="dct"`` fixes Φ to :func:`dct_basis`.
    ``prototype=True`` keeps two quirks of the original for re-running its benchmark: a
    Gumbel-softmax across features on the log-gates (random even in eval mode) and a random
    N(0, 1/C) basis initialisation.
    """

    def __init__(
        self,
        d_model: int,
        structure_dim: int | None = None,
        pseudo_dim: int | None = None,
        basis: str = "learned",
        gate_temperature: float = 1.0,
        separation_strength: float = 0.05,
        dropout: float = 0.0,
        prototype: bool = False,
    ):
        super().__init__()
        check_positive_int("d_model", d_model, minimum=4)
        S = d_model // 2 if structure_dim is None else structure_dim
        P = d_model // 2 if pseudo_dim is None else pseudo_dim
        check_positive_int("structure_dim", S)
        check_positive_int("pseudo_dim", P)
        if S > d_model:
            raise ValueError(f"structure_dim must lie in [1, d_model={d_model}], got {S}")
        if basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
        check_range("gate_temperature", gate_temperature, 0.0, math.inf, low_inclusive=False)
        check_range("separation_strength", separation_strength, 0.0)
        check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        self.d_model, self.structure_dim, self.pseudo_dim, self.basis_kind = d_model, S, P, basis
        self.gate_temperature, self.separation_strength, self.prototype = (
            gate_temperature,
            separation_strength,
            prototype,
        )

        self.structure_gate = _gate_mlp(d_model, S)  # x -> logits of g_s
        self.pseudo_gate = _gate_mlp(d_model, P)  # x -> logits of g_p
        if basis == "learned":
            init = torch.randn(d_model, S) / math.sqrt(d_model) if prototype else dct_basis(d_model, S)
            self.basis = nn.Parameter(init)  # (C, S), learned Φ
            self.structure_coeffs = nn.Linear(S, S)  # mixes the coefficients before the path
        else:
            self.register_buffer("basis", dct_basis(d_model, S))  # (C, S), fixed Φ
            self.structure_coeffs = nn.Identity()
        # structured path: stable, low-complexity, width S
        self.structure_path = nn.Sequential(nn.Linear(S, S), nn.LayerNorm(S), nn.ReLU(), nn.Linear(S, S))
        # pseudo-random path: projection then a 2x-wide MLP, width P
        self.pseudo_proj = nn.Linear(d_model, P)
        self.pseudo_path = nn.Sequential(
            nn.Linear(P, 2 * P), nn.ReLU(), nn.Dropout(dropout), nn.Linear(2 * P, P), nn.LayerNorm(P)
        )
        self.reconstruct = nn.Linear(S + P, d_model)  # recombination
        # predicts x from the structured coefficients alone (first term of eq-spd-separation)
        self.separation_predictor = nn.Sequential(
            nn.Linear(S, d_model // 4), nn.ReLU(), nn.Linear(d_model // 4, d_model)
        )
        self.dropout = nn.Dropout(dropout)

    def _gate(self, logits: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(logits / self.gate_temperature)  # (..., width) in (0, 1)
        if self.prototype:  # the original: a Gumbel-softmax across features, so gates sum to 1
            gate = F.gumbel_softmax(torch.log(gate + 1e-8), tau=self.gate_temperature, hard=False)
        return gate

    def separation_loss(self, x_struct: torch.Tensor, x_pseudo: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """eq-spd-separation: ``λ · (‖pred(x_struct) − x‖²/C − H̄(x_pseudo))`` as a tensor.

        The structured coefficients alone should explain ``x``; the pseudo part should have a
        high "entropy" ``H̄ = mean(−|p| log|p|)``. The prototype's ``_compute_separation_loss``
        differs in three ways: it weighted only the entropy, ``mse − λ·H``; its ``H`` summed
        ``−p log(p + 1e-8)`` over the P features and averaged over tokens (P times larger); and it
        took no absolute value, so any negative ``p`` gave ``log`` of a negative number, NaN. It
        then returned ``loss.item()``: a Python float, so no parameter ever received its gradient.
        """
        predicted = self.separation_predictor(x_struct)  # (B, T, C)
        struct_loss = F.mse_loss(predicted, x)  # ()
        magnitude = x_pseudo.abs()  # (B, T, P)
        entropy = -(magnitude * torch.log(magnitude + 1e-8)).mean()  # ()
        return self.separation_strength * (struct_loss - entropy)

    def _check(self, x: torch.Tensor) -> None:
        check_input("x", x, self.reconstruct.weight)
        if x.dim() != 3 or x.shape[-1] != self.d_model or x.numel() == 0:
            raise ValueError(f"x must have shape (B, T, {self.d_model}) with B, T ≥ 1, got {tuple(x.shape)}")

    def _recombine(self, x, x_struct, x_pseudo) -> tuple[torch.Tensor, torch.Tensor]:
        """The two paths, their recombination ``y`` (B, T, C) and eq-spd-separation ()."""
        h_struct = self.structure_path(self.structure_coeffs(x_struct))  # (B, T, S)
        h_pseudo = self.pseudo_path(x_pseudo)  # (B, T, P)
        y = self.dropout(self.reconstruct(torch.cat([h_struct, h_pseudo], dim=-1)))  # (B, T, C)
        return y, self.separation_loss(x_struct, x_pseudo, x)

    def decompose(self, x: torch.Tensor) -> SPDParts:
        """All intermediates of eq-spd-router for x (B, T, C): the reference :meth:`forward` is tested against."""
        self._check(x)
        coefficients = x @ self.basis  # (B, T, S)
        gate = self._gate(self.structure_gate(x))  # (B, T, S)
        x_struct = gate * coefficients  # (B, T, S)
        x_pseudo = self._gate(self.pseudo_gate(x)) * self.pseudo_proj(x)  # (B, T, P)
        structured = x_struct @ self.basis.T  # (B, T, C)
        y, loss = self._recombine(x, x_struct, x_pseudo)  # (B, T, C), ()
        return SPDParts(coefficients, gate, x_struct, x_pseudo, structured, y, loss)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, separation_loss)`` of :meth:`decompose`, without forming the structured part in
        input space, which neither uses."""
        self._check(x)
        x_struct = self._gate(self.structure_gate(x)) * (x @ self.basis)  # (B, T, S)
        x_pseudo = self._gate(self.pseudo_gate(x)) * self.pseudo_proj(x)  # (B, T, P)
        return self._recombine(x, x_struct, x_pseudo)  # (B, T, C), ()
