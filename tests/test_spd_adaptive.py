"""The adaptive classical estimators of the SPD chapter: the Gaussian likelihood against torch's
multivariate normal, the plug-in σ̂ by hand, and the band detector on separable bands."""

import math

import pytest
import torch

from spark_edu.chapters.spd_router.adaptive import (
    adaptive_estimate,
    adaptive_records,
    energy_projection,
    training_energy,
    band_choice,
    band_pick_estimate,
    plug_in_estimate,
)
from spark_edu.chapters.spd_router.experiments import SweepConfig
from spark_edu.spd.baselines import MAD_TO_SIGMA
from spark_edu.spd.lmmse import LMMSE
from spark_edu.spd.router import dct_basis
from spark_edu.tasks.mixed_signals import varying_band


def _model(n=6, b=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(n, n, generator=g, dtype=torch.float64)
    return LMMSE.fit(torch.randn(b, n, generator=g, dtype=torch.float64) @ mixing + 0.5)


def test_log_likelihood_is_the_multivariate_normal_density():
    model = _model()
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for variance in (0.3, torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5], dtype=torch.float64)):
        v = torch.as_tensor(variance, dtype=torch.float64).reshape(-1, 1, 1)
        reference = torch.distributions.MultivariateNormal(model.mean, model.covariance + v * torch.eye(6))
        expected = reference.log_prob(x) + 3 * math.log(2 * math.pi)  # the method drops −(N/2) log 2π
        torch.testing.assert_close(model.log_likelihood(x, variance), expected)


def test_plug_in_uses_the_mad_noise_estimate_of_each_signal():
    model = _model(n=16)
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    c = x @ dct_basis(16, dtype=torch.float64)
    sigma = c[:, 8:].abs().median(dim=-1).values / MAD_TO_SIGMA  # eq-spd-mad by hand
    torch.testing.assert_close(plug_in_estimate(model, x), model.estimate(x, sigma**2))


def test_band_detector_finds_separable_bands_and_then_is_the_oracle():
    g = torch.Generator().manual_seed(3)
    bands = ((1.0, 4.0), (12.0, 20.0))
    train = varying_band(4096, 64, 3, 0.5, bands, g)
    test = varying_band(256, 64, 3, 0.5, bands, g)
    models = [LMMSE.fit(train.clean[train.band == k]) for k in (0, 1)]
    pick = band_choice(models, [0.5, 0.5], test.noisy, 0.25)
    assert (pick == test.band).double().mean() > 0.99
    oracle = torch.where(
        (test.band == 0)[:, None], models[0].estimate(test.noisy, 0.25), models[1].estimate(test.noisy, 0.25)
    )
    right = pick == test.band
    torch.testing.assert_close(band_pick_estimate(train, test.noisy, 0.25)[right], oracle[right])


def test_records_and_bad_input():
    records = adaptive_records("band varies", [0], SweepConfig(test_signals=32))
    names = ["adaptive LMMSE, band detected", "oracle LMMSE (told the condition) + energy projection"]
    assert [r["method"] for r in records] == names
    assert all(math.isfinite(r["mse_gain"]) for r in records)
    train = varying_band(8, 64, 3, 0.5, ((1.0, 4.0), (12.0, 20.0)), torch.Generator())
    with pytest.raises(ValueError, match="condition"):
        adaptive_estimate("noise rises", train, torch.zeros(2, 64))
    with pytest.raises(ValueError, match="shares"):
        band_choice([_model()], [0.5, 0.5], torch.zeros(2, 6, dtype=torch.float64), 0.1)


def test_energy_projection_lands_on_the_sphere_and_never_moves_a_signal_already_there():
    """Every clean signal of the generator has one energy; the projection keeps direction, sets the norm."""
    train = varying_band(64, 64, 3, 0.5, ((1.0, 4.0), (12.0, 20.0)), torch.Generator().manual_seed(0))
    energy = training_energy(train)
    assert energy == pytest.approx(64 * 0.5)  # N · RMS², RMS = 1/√2
    noisy = train.noisy.to(torch.float64)
    projected = energy_projection(noisy, energy)
    torch.testing.assert_close(projected.pow(2).sum(-1), torch.full((64,), energy, dtype=torch.float64))
    cosine = torch.nn.functional.cosine_similarity(projected, noisy, dim=-1)
    torch.testing.assert_close(cosine, torch.ones(64, dtype=torch.float64))
    torch.testing.assert_close(energy_projection(train.clean, energy), train.clean)
    with pytest.raises(ValueError, match="energy"):
        energy_projection(noisy, 0.0)
    uneven = train._replace(clean=train.clean * torch.linspace(0.5, 1.5, 64)[:, None])
    with pytest.raises(ValueError, match="one energy"):
        training_energy(uneven)
