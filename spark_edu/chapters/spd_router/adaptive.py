"""Classical estimators that adapt to each signal: the fair opponents of the router when the
condition varies from signal to signal (:mod:`~spark_edu.chapters.spd_router.nonstationary`).

A fixed LMMSE cannot follow a condition that changes per signal, but a classical estimator can,
if it first estimates the condition from the signal itself and then applies the LMMSE for it:

* **noise varies** — estimate each signal's σ̂ from its upper DCT half (eq-spd-mad), then apply
  the LMMSE of the clean training signals with σ̂² (a plug-in adaptive Wiener filter);
* **band varies** — fit one LMMSE per band on the training signals of that band, pick for each
  signal the band whose Gaussian model ``N(μ_k, C_k + σ² I)`` gives it the highest likelihood
  (times the band's share of the training signals), and apply that band's LMMSE.

Both use only the training signals and the noisy test signal, never the test condition: the
*oracle* LMMSE of :mod:`~spark_edu.chapters.spd_router.nonstationary` is told it.

**Energy projection.** The generator rescales every clean signal to one energy ``E = ‖s‖²``
(RMS 1/√2), a fact any estimator may learn from the training signals. Projecting an estimate
onto that sphere, ``ŝ ↦ ŝ · √E / ‖ŝ‖``, is one nonlinear step a classical estimator can take
too; :func:`adaptive_records` adds it to the oracle LMMSE, the strongest linear reference.
"""

from __future__ import annotations

import torch

from spark_edu.chapters.spd_router.experiments import SweepConfig
from spark_edu.chapters.spd_router.nonstationary import (
    ADAPTIVE_NAMES,
    ENERGY_SUFFIX,
    ORACLE_NAME,
    held_out_signals,
    linear_estimates,
    scores,
    training_set,
)
from spark_edu.spd.baselines import mad_sigma
from spark_edu.spd.lmmse import LMMSE
from spark_edu.spd.router import dct_basis
from spark_edu.tasks.mixed_signals import MixedBatch


def plug_in_estimate(model: LMMSE, noisy: torch.Tensor, floor: float = 1e-6) -> torch.Tensor:
    """``μ + W(σ̂²)(x − μ)`` with σ̂ of eq-spd-mad per signal (its square floored at ``floor``)."""
    variance = mad_sigma(noisy @ dct_basis(noisy.shape[-1], dtype=noisy.dtype)).to(torch.float64).pow(2)  # (B,)
    return model.estimate(noisy, variance.clamp_min(floor))


def band_choice(models: list[LMMSE], shares: list[float], noisy: torch.Tensor, noise_variance: float) -> torch.Tensor:
    """Index (B,) of the band whose Gaussian model, weighted by its prior share, explains each signal best."""
    if len(models) != len(shares) or not models:
        raise ValueError(f"models and shares must be non-empty and of one length, got {len(models)} and {len(shares)}")
    scores = torch.stack(
        [m.log_likelihood(noisy, noise_variance) + torch.tensor(w).log() for m, w in zip(models, shares)], dim=-1
    )  # (B, K)
    return scores.argmax(dim=-1)


def band_pick_estimate(train: MixedBatch, noisy: torch.Tensor, noise_variance: float) -> torch.Tensor:
    """The LMMSE of the band :func:`band_choice` picks, fitted on that band's training signals."""
    bands = sorted(int(b) for b in train.band.unique())
    models = [LMMSE.fit(train.clean[train.band == k]) for k in bands]
    shares = [float((train.band == k).double().mean()) for k in bands]
    pick = band_choice(models, shares, noisy, noise_variance)  # (B,)
    estimates = torch.stack([m.estimate(noisy, noise_variance) for m in models], dim=1)  # (B, K, N)
    return estimates[torch.arange(noisy.shape[0]), pick]  # (B, N)


def adaptive_estimate(condition: str, train: MixedBatch, noisy: torch.Tensor) -> torch.Tensor:
    """The adaptive classical estimate (``ADAPTIVE_NAMES[condition]``) of the clean signals in ``noisy`` (B, N)."""
    if condition == "noise varies":
        return plug_in_estimate(LMMSE.fit(train.clean), noisy)
    if condition == "band varies":
        noise_variance = (train.noisy - train.clean).pow(2).mean().item()  # what the mixture LMMSE is given
        return band_pick_estimate(train, noisy, noise_variance)
    raise ValueError(f"condition must be one of {list(ADAPTIVE_NAMES)}, got {condition!r}")


def training_energy(train: MixedBatch) -> float:
    """``E``: the clean training signals' energy ``‖s‖²``; raises if the signals do not share one."""
    energy = train.clean.to(torch.float64).pow(2).sum(dim=-1)  # (B,)
    if float(energy.max() - energy.min()) > 1e-6 * float(energy.mean()):
        raise ValueError("train: the clean signals do not share one energy, so there is no sphere to project onto")
    return float(energy.mean())


def energy_projection(estimate: torch.Tensor, energy: float) -> torch.Tensor:
    """``ŝ · √E / ‖ŝ‖`` per signal (B, N): the estimate moved radially onto the sphere ``‖s‖² = E``."""
    if not energy > 0:
        raise ValueError(f"energy must be positive, got {energy!r}")
    return estimate * (energy**0.5 / estimate.norm(dim=-1, keepdim=True).clamp_min(1e-12))


def adaptive_records(condition: str, seeds, config: SweepConfig) -> list[dict]:
    """Records like :func:`~spark_edu.chapters.spd_router.nonstationary.condition_run`'s for the adaptive
    estimator and for the oracle LMMSE with the energy projection, on the same test signals and
    training set; nothing is trained, so the chapter computes them live beside the saved runs."""
    train = training_set(condition, config)
    energy = training_energy(train)
    records = []
    for seed in seeds:
        test = held_out_signals(condition, seed, config)
        adaptive = adaptive_estimate(condition, train, test.noisy)
        oracle = linear_estimates(condition, test, config)[ORACLE_NAME]
        estimates = {
            ADAPTIVE_NAMES[condition]: adaptive,
            ORACLE_NAME + ENERGY_SUFFIX: energy_projection(oracle, energy),
        }
        for method, estimate in estimates.items():
            record = {"condition": condition, "method": method, "seed": seed, "lr": None}
            records.append(record | scores(condition, test, estimate))
    return records
