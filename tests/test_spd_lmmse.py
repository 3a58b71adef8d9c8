"""The full-covariance linear estimator (LMMSE) against independent references, the non-stationary
signal generators' properties, the chapter's non-stationary scoring and saved run, and bad input."""

import math

import numpy as np
import pytest
import torch

from spark_edu.spd import dct_basis
from spark_edu.spd.baselines import dct_denoise, prior_spectrum
from spark_edu.spd.lmmse import LMMSE
from spark_edu.tasks.mixed_signals import varying_band, varying_noise


def _correlated(n_signals: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((n, n))
    return rng.standard_normal((n_signals, n)) @ mixing.T + rng.standard_normal(n)  # mean ≠ 0


# --- the estimator against a dense solve and a regression ------------------------------------


@pytest.mark.parametrize("noise_variance", [0.05, 1.0, 7.5])
def test_matrix_is_the_dense_solve(noise_variance):
    clean = _correlated(40, 6, seed=1)
    C = np.cov(clean.T, bias=True)
    W = np.linalg.solve(C + noise_variance * np.eye(6), C).T  # W = C (C + σ² I)⁻¹ (both symmetric)
    fitted = LMMSE.fit(torch.from_numpy(clean))
    np.testing.assert_allclose(fitted.matrix(noise_variance).numpy(), W, atol=1e-10, rtol=0)
    np.testing.assert_allclose(fitted.covariance.numpy(), C, atol=1e-10, rtol=0)
    x = _correlated(5, 6, seed=2)
    expected = clean.mean(0) + (x - clean.mean(0)) @ W.T
    np.testing.assert_allclose(fitted.estimate(torch.from_numpy(x), noise_variance).numpy(), expected, atol=1e-10)


def test_matches_least_squares_regression_of_clean_on_noisy():
    """With many training pairs, the affine least-squares fit of clean on noisy is the LMMSE."""
    rng = np.random.default_rng(3)
    n, sigma = 4, 0.7
    clean = _correlated(200_000, n, seed=4)
    noisy = clean + sigma * rng.standard_normal(clean.shape)
    design = np.hstack([noisy, np.ones((len(noisy), 1))])  # (B, N + 1): the intercept column
    coef, *_ = np.linalg.lstsq(design, clean, rcond=None)  # (N + 1, N)
    fitted = LMMSE.fit(torch.from_numpy(clean))
    W = fitted.matrix(sigma**2).numpy()
    np.testing.assert_allclose(coef[:n].T, W, atol=0.01)
    np.testing.assert_allclose(coef[n], fitted.mean.numpy() - W @ fitted.mean.numpy(), atol=0.02)


def test_per_signal_variances_are_one_matrix_per_signal():
    fitted = LMMSE.fit(torch.from_numpy(_correlated(30, 5, seed=5)))
    x = torch.from_numpy(_correlated(3, 5, seed=6))
    variances = torch.tensor([0.1, 1.0, 4.0], dtype=torch.float64)
    together = fitted.estimate(x, variances)
    for i in range(3):
        alone = fitted.mean + (x[i] - fitted.mean) @ fitted.matrix(variances[i].item()).T
        torch.testing.assert_close(together[i], alone)


def test_dct_diagonal_covariance_gives_the_dct_diagonal_gate():
    """When the clean signals' covariance is diagonal in the DCT basis (and their mean 0), the
    LMMSE is exactly the DCT-diagonal Wiener gate P_f / (P_f + σ²)."""
    n = 8
    phi = dct_basis(n, dtype=torch.float64)
    amplitude = torch.linspace(2.0, 0.1, n, dtype=torch.float64)
    clean = torch.cat([amplitude[:, None] * phi.T, -amplitude[:, None] * phi.T])  # ±a_f φ_f: mean 0, C diagonal
    noisy = clean[:5] + 0.3 * torch.randn(5, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gate = dct_denoise(noisy, "dct_diagonal_wiener", sigma=0.3, signal_power=prior_spectrum(clean))
    torch.testing.assert_close(LMMSE.fit(clean).estimate(noisy, 0.09), gate)


def test_lmmse_beats_every_dct_gate_on_the_sinusoid_task():
    from spark_edu.tasks.signals import sinusoid_mixture

    train = sinusoid_mixture(4096, 64, 3, 0.0, torch.Generator().manual_seed(1)).clean
    test = sinusoid_mixture(2048, 64, 3, 0.5, torch.Generator().manual_seed(2))
    mse = {
        "lmmse": (LMMSE.fit(train).estimate(test.noisy, 0.25) - test.clean).pow(2).mean().item(),
        "diagonal": (
            dct_denoise(test.noisy, "dct_diagonal_wiener", sigma=0.5, signal_power=prior_spectrum(train)) - test.clean
        )
        .pow(2)
        .mean()
        .item(),
        "wiener": (dct_denoise(test.noisy, "wiener", sigma=0.5) - test.clean).pow(2).mean().item(),
    }
    assert mse["lmmse"] < min(mse["diagonal"], mse["wiener"])


def test_lmmse_bad_input():
    fitted = LMMSE.fit(torch.randn(10, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="clean"):
        LMMSE.fit(torch.randn(4))
    with pytest.raises(ValueError, match="clean"):
        LMMSE.fit(torch.randn(1, 4))
    with pytest.raises(ValueError, match="clean"):
        LMMSE.fit(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="clean"):
        LMMSE.fit(torch.ones(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="noisy"):
        fitted.estimate(torch.randn(2, 5), 1.0)
    with pytest.raises(ValueError, match="noise_variance"):
        fitted.estimate(torch.randn(2, 4), 0.0)
    with pytest.raises(ValueError, match="noise_variance"):
        fitted.estimate(torch.randn(2, 4), float("nan"))
    with pytest.raises(ValueError, match="noise_variance"):
        fitted.estimate(torch.randn(2, 4), torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="noise_variance"):
        fitted.estimate(torch.randn(2, 4), torch.tensor([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="one noise variance"):
        fitted.matrix(torch.tensor([1.0, 2.0]))


# --- the non-stationary generators ----------------------------------------------------------


def test_varying_noise_properties():
    batch = varying_noise(4000, 64, 3, (0.1, 1.0), torch.Generator().manual_seed(0))
    assert float(batch.sigma.min()) >= 0.1 and float(batch.sigma.max()) <= 1.0
    log_sigma = batch.sigma.log()  # log-uniform: ln σ uniform on [ln 0.1, 0], mean ln √0.1
    assert log_sigma.mean().item() == pytest.approx(0.5 * math.log(0.1), abs=0.04)
    assert (log_sigma < 0.5 * math.log(0.1)).float().mean().item() == pytest.approx(0.5, abs=0.03)
    per_signal = (batch.noise / batch.sigma[:, None]).pow(2).mean().item()  # ε ~ N(0, 1) scaled by each σ
    assert per_signal == pytest.approx(1.0, abs=0.02)
    torch.testing.assert_close(batch.noisy, batch.clean + batch.noise)
    torch.testing.assert_close(batch.clean.pow(2).mean(-1), torch.full((4000,), 0.5))
    assert batch.band.eq(0).all()
    again = varying_noise(4000, 64, 3, (0.1, 1.0), torch.Generator().manual_seed(0))
    assert torch.equal(again.noisy, batch.noisy)


def test_varying_band_properties():
    bands = ((1.0, 4.0), (12.0, 20.0))
    batch = varying_band(2000, 64, 3, 0.0, bands, torch.Generator().manual_seed(1))
    assert batch.band.float().mean().item() == pytest.approx(0.5, abs=0.04)
    power = (batch.clean @ dct_basis(64)).pow(2)  # (B, N); DCT index f is f/2 cycles
    low = power[batch.band == 0]
    high = power[batch.band == 1]
    # band 1–4 cycles is DCT f ≤ 8, band 12–20 is 24 ≤ f ≤ 40; a window of non-integer cycles leaks a little
    assert (low[:, :12].sum(-1) / low.sum(-1)).min().item() > 0.9
    assert (high[:, 18:46].sum(-1) / high.sum(-1)).min().item() > 0.9
    assert (low[:, 18:46].sum(-1) / low.sum(-1)).max().item() < 0.05  # and each band stays out of the other
    assert torch.equal(batch.noisy, batch.clean) and batch.sigma.eq(0).all()
    noisy = varying_band(2000, 64, 3, 0.5, bands, torch.Generator().manual_seed(1))
    assert noisy.noise.std().item() == pytest.approx(0.5, abs=0.01)


def test_generators_bad_input():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="sigma_range"):
        varying_noise(4, 16, 1, (0.0, 1.0), g)
    with pytest.raises(ValueError, match="sigma_range"):
        varying_noise(4, 16, 1, (0.5, 0.2), g)
    with pytest.raises(ValueError, match="bands"):
        varying_band(4, 16, 1, 0.1, ((1.0, 2.0),), g)
    with pytest.raises(ValueError, match="noise_level"):
        varying_band(4, 16, 1, -0.1, ((1.0, 2.0), (3.0, 4.0)), g)
    with pytest.raises(ValueError, match="n_signals"):
        varying_band(0, 16, 1, 0.1, ((1.0, 2.0), (3.0, 4.0)), g)


# --- the chapter's non-stationary scoring and saved run --------------------------------------


def test_oracle_knows_more_than_the_mixture_filter():
    from spark_edu.chapters.spd_router.experiments import SweepConfig
    from spark_edu.chapters.spd_router.nonstationary import (
        CONDITIONS,
        MIXED_NAME,
        ORACLE_NAME,
        condition_batch,
        linear_estimates,
        scores,
    )

    config = SweepConfig()
    for condition in CONDITIONS:
        test = condition_batch(condition, 1024, torch.Generator().manual_seed(5), config)
        out = {k: scores(condition, test, v) for k, v in linear_estimates(condition, test, config).items()}
        assert out[ORACLE_NAME]["mse_gain"] > out[MIXED_NAME]["mse_gain"] > 0
    with pytest.raises(ValueError, match="condition"):
        condition_batch("band drifts", 4, torch.Generator(), config)


def test_paired_gap_pairs_by_seed():
    from spark_edu.chapters.spd_router.nonstationary import paired_gap
    from spark_edu.measure import mean_interval

    records = [{"method": m, "seed": s, "snr_improvement": v} for m, s, v in
               [("a", 0, 3.0), ("a", 1, 5.0), ("a", 2, 4.0), ("b", 0, 1.0), ("b", 1, 4.0), ("b", 2, 4.5)]]  # fmt: skip
    assert paired_gap(records, "a", "b") == pytest.approx(mean_interval([2.0, 1.0, -0.5]))


def test_saved_run_round_trip(tmp_path):
    from spark_edu.chapters.spd_router.experiments import ROUTERS, SweepConfig
    from spark_edu.chapters.spd_router.saved import load_results, run_all, save, tuned_rates

    assert load_results(tmp_path) is None
    results = run_all(SweepConfig(steps=2, batch=8, test_signals=16), seeds=range(2), rates=(1e-3, 1e-2))
    assert sorted(p.name for p in save(results, tmp_path)) == ["nonstationary.json", "stationary.json"]
    loaded = load_results(tmp_path)
    for part in loaded.values():
        assert part["made"]["seeds"] == [0, 1] and part["made"]["steps"] == 2 and part["made"]["threads"] == 1
    rates = tuned_rates(loaded["stationary"])
    assert {t["noise"] for t in loaded["stationary"]["tuning"]} == {0.5}  # tuned once, used at every level
    assert set(rates) == {(lv, name) for lv in (0.1, 0.3, 0.5, 0.6) for name in ROUTERS}
    assert set(rates.values()) <= {1e-3, 1e-2}
    for condition, section in loaded["nonstationary"].items():
        if condition == "made":
            continue
        assert set(tuned_rates(section)) == set(ROUTERS)
        assert {r["seed"] for r in section["records"]} == {0, 1}
        assert section["longer"]["steps"] == 6
    with pytest.raises(ValueError, match="parts"):
        run_all(SweepConfig(steps=2), seeds=range(1), parts=("all",))


def test_original_separation_loss_is_the_prototype_formula():
    from spark_edu.chapters.spd_router.prototype import original_separation_loss
    from spark_edu.spd import SPDRouter

    torch.manual_seed(0)
    router = SPDRouter(8, separation_strength=0.5)
    x = torch.randn(2, 3, 8)
    parts = router.decompose(x)
    positive = parts.x_pseudo.abs() + 0.1  # (B, T, P) > 0: the formula is defined
    mse = torch.nn.functional.mse_loss(router.separation_predictor(parts.x_struct), x)
    by_hand = mse - 0.5 * (-(positive * torch.log(positive + 1e-8)).sum(-1).mean())
    torch.testing.assert_close(original_separation_loss(router, parts.x_struct, positive, x), by_hand)
    assert torch.isnan(original_separation_loss(router, parts.x_struct, -positive, x))  # any p < 0: NaN
