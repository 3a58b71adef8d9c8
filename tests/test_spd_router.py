"""SPD router: the DCT basis against scipy, the split, the metrics on hand-computed cases,
gradient flow through the separation loss, the layer's shapes and size, the baselines,
the signal task, and bad input."""

import math
import statistics

import numpy as np
import pytest
import scipy.fft
import torch

from spark_edu.spd import SPDRouter, dct_basis, snr_db, snr_improvement_db, split, structure_correlation
from spark_edu.spd.baselines import dct_denoise, gate_for, mad_sigma, universal_threshold
from spark_edu.tasks.signals import input_snr_db, sinusoid_mixture
from spark_edu.transformer import count_parameters


# --- basis ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_dct_basis_is_orthonormal(n):
    phi = dct_basis(n, dtype=torch.float64)
    torch.testing.assert_close(phi.T @ phi, torch.eye(n, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(phi @ phi.T, torch.eye(n, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("n", [5, 32, 63])
def test_dct_basis_matches_scipy(n):
    x = np.random.default_rng(n).standard_normal((4, n))
    ours = torch.from_numpy(x) @ dct_basis(n, dtype=torch.float64)
    np.testing.assert_allclose(ours.numpy(), scipy.fft.dct(x, type=2, norm="ortho", axis=-1), atol=1e-12)
    inverse = ours @ dct_basis(n, dtype=torch.float64).T
    np.testing.assert_allclose(inverse.numpy(), scipy.fft.idct(ours.numpy(), type=2, norm="ortho"), atol=1e-12)


def test_truncated_basis_keeps_the_lowest_frequencies():
    full, low = dct_basis(16, dtype=torch.float64), dct_basis(16, 5, dtype=torch.float64)
    torch.testing.assert_close(low, full[:, :5])
    torch.testing.assert_close(low.T @ low, torch.eye(5, dtype=torch.float64))


# --- split ---------------------------------------------------------------------------------


def test_split_parts_sum_to_input_and_full_gate_is_identity():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, generator=g, dtype=torch.float64)
    phi = dct_basis(10, dtype=torch.float64)
    structured, pseudo = split(x, phi, torch.ones(3, 10, dtype=torch.float64))
    torch.testing.assert_close(structured, x)
    gate = (torch.arange(10) < 3).to(torch.float64).expand(3, 10)
    structured, pseudo = split(x, phi, gate)
    torch.testing.assert_close(structured + pseudo, x)
    torch.testing.assert_close((structured * pseudo).sum(-1), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)


# --- metrics on hand-computed cases ----------------------------------------------------------


def test_correlation_hand_cases():
    clean = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert structure_correlation(2 * clean + 5, clean).item() == pytest.approx(1.0)
    assert structure_correlation(-clean, clean).item() == pytest.approx(-1.0)
    # a = [1, 0, -1, 0] vs b = [0, 1, 0, -1] (both zero-mean): Σab = 0
    assert structure_correlation(torch.tensor([1.0, 0, -1, 0]), torch.tensor([0.0, 1, 0, -1])).item() == pytest.approx(
        0.0
    )
    # a = [1, 2, 3], b = [1, 3, 2]: deviations [-1,0,1], [-1,1,0] -> Σab = 1, Σa² = Σb² = 2 -> ρ = 1/2
    assert structure_correlation(torch.tensor([1.0, 2, 3]), torch.tensor([1.0, 3, 2])).item() == pytest.approx(0.5)
    assert structure_correlation(torch.zeros(4), clean).item() == 0.0  # no variation: ρ = 0 by convention


def test_correlation_matches_numpy_per_signal():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 20, generator=g, dtype=torch.float64), torch.randn(5, 20, generator=g, dtype=torch.float64)
    expected = [np.corrcoef(a[i].numpy(), b[i].numpy())[0, 1] for i in range(5)]
    np.testing.assert_allclose(structure_correlation(a, b).numpy(), expected, atol=1e-12)


def test_snr_hand_cases():
    clean = torch.tensor([1.0, -1.0, 1.0, -1.0])  # power 4
    noisy = clean + torch.tensor([0.5, 0.5, -0.5, -0.5])  # error power 1 -> 10 log10 4 = 6.0206 dB
    estimate = clean + 0.1 * torch.tensor([1.0, 1.0, -1.0, -1.0])  # error power 0.04 -> 10 log10 100 = 20 dB
    assert snr_db(clean, noisy).item() == pytest.approx(10 * math.log10(4), abs=1e-5)
    assert snr_db(clean, estimate).item() == pytest.approx(20.0, abs=1e-4)
    assert snr_improvement_db(clean, noisy, estimate).item() == pytest.approx(20 - 10 * math.log10(4), abs=1e-4)
    assert snr_improvement_db(clean, noisy, noisy).item() == pytest.approx(0.0, abs=1e-6)  # doing nothing: 0 dB


# --- the layer -------------------------------------------------------------------------------


def test_router_shapes_and_parameter_count_of_the_prototype():
    router = SPDRouter(128)  # learned basis, as the prototype's default
    assert count_parameters(router) == 93_408
    assert count_parameters(SPDRouter(128, basis="dct")) == 93_408 - 128 * 64 - (64 * 64 + 64)
    x = torch.randn(2, 7, 128)
    y, loss = router(x)
    assert y.shape == (2, 7, 128) and loss.dim() == 0
    parts = router.decompose(x)
    assert parts.coefficients.shape == (2, 7, 64) and parts.structured.shape == (2, 7, 128)
    assert parts.gate.min() >= 0 and parts.gate.max() <= 1


def test_dct_router_structured_part_is_the_split():
    router = SPDRouter(16, structure_dim=16, basis="dct").double()
    x = torch.randn(3, 2, 16, dtype=torch.float64)
    parts = router.decompose(x)
    expected, _ = split(x, dct_basis(16, dtype=torch.float64), parts.gate)
    torch.testing.assert_close(parts.structured, expected)


def test_separation_loss_carries_gradient_and_a_float_does_not():
    router = SPDRouter(32)
    x = torch.randn(4, 5, 32)
    y, loss = router(x)
    assert loss.requires_grad
    (y.pow(2).mean() + loss).backward()
    predictor_grads = [p.grad for p in router.separation_predictor.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in predictor_grads)
    assert router.basis.grad.abs().sum() > 0

    router.zero_grad(set_to_none=True)
    y, loss = router(x)
    (y.pow(2).mean() + loss.item()).backward()  # the prototype's `.item()`: a constant to autograd
    assert all(p.grad is None for p in router.separation_predictor.parameters())


def test_separation_loss_gradcheck_float64():
    router = SPDRouter(8, structure_dim=4, pseudo_dim=4).double()
    x = torch.randn(2, 3, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: router(inp)[1], (x,), eps=1e-6, atol=1e-5)


def test_router_inside_a_transformer_block_trains():
    from spark_edu.transformer import MultiHeadSelfAttention

    attn, norm, router = MultiHeadSelfAttention(32, 4), torch.nn.LayerNorm(32), SPDRouter(32)
    x = torch.randn(2, 6, 32)
    h = x + attn(x)  # (B, T, C)
    y, sep = router(norm(h))  # the router in the MLP's place
    ((h + y).pow(2).mean() + sep).backward()
    assert router.structure_gate[0].weight.grad.abs().sum() > 0
    assert attn.qkv.weight.grad.abs().sum() > 0


# --- baselines ---------------------------------------------------------------------------------


def test_mad_sigma_recovers_white_noise_level():
    g = torch.Generator().manual_seed(2)
    noise = 0.3 * torch.randn(200, 256, generator=g)
    estimate = mad_sigma(noise @ dct_basis(256))
    assert estimate.mean().item() == pytest.approx(0.3, rel=0.03)


def test_gates_hand_cases():
    c = torch.tensor([[3.0, -1.0, 0.5, 0.0]])
    sigma = torch.tensor([1.0])
    tau = universal_threshold(1.0, 4)  # √(2 ln 4) = 1.665
    torch.testing.assert_close(gate_for("hard", c, sigma), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(gate_for("soft", c, sigma), torch.tensor([[1 - tau / 3, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(gate_for("wiener", c, sigma), torch.tensor([[1 - 1 / 9, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(gate_for("lowpass", c, sigma, cutoff=2), torch.tensor([[1.0, 1.0, 0.0, 0.0]]))


def test_baselines_improve_snr_on_the_task():
    batch = sinusoid_mixture(128, 64, 2, 0.5, torch.Generator().manual_seed(3))
    for method in ("hard", "soft", "wiener"):
        estimate = dct_denoise(batch.noisy, method)
        assert snr_improvement_db(batch.clean, batch.noisy, estimate).mean() > 0.5, method


# --- the task ----------------------------------------------------------------------------------


def test_signals_have_the_stated_power_and_noise():
    batch = sinusoid_mixture(400, 64, 3, 0.5, torch.Generator().manual_seed(4))
    torch.testing.assert_close(batch.clean.pow(2).mean(-1), torch.full((400,), 0.5), atol=1e-5, rtol=0)
    assert batch.noise.std().item() == pytest.approx(0.5, rel=0.02)
    torch.testing.assert_close(batch.noisy - batch.noise, batch.clean)
    assert input_snr_db(0.5) == pytest.approx(10 * math.log10(2.0))
    again = sinusoid_mixture(400, 64, 3, 0.5, torch.Generator().manual_seed(4))
    assert torch.equal(again.noisy, batch.noisy)  # seeded


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_raises_value_error():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="noise_level"):
        sinusoid_mixture(2, 16, 1, -0.1, g)
    with pytest.raises(ValueError, match="noise_level"):
        input_snr_db(-1.0)
    with pytest.raises(ValueError, match="sigma"):
        dct_denoise(torch.randn(2, 16), "wiener", sigma=-0.5)
    with pytest.raises(ValueError, match="same shape"):
        structure_correlation(torch.randn(2, 16), torch.randn(2, 15))
    with pytest.raises(ValueError, match="same shape"):
        snr_improvement_db(torch.randn(16), torch.randn(16), torch.randn(17))
    nan_signal = torch.randn(2, 16)
    nan_signal[0, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        structure_correlation(nan_signal, torch.randn(2, 16))
    with pytest.raises(ValueError, match="NaN"):
        dct_denoise(nan_signal, "hard")
    with pytest.raises(ValueError, match="NaN"):
        SPDRouter(16)(nan_signal[None])
    with pytest.raises(ValueError, match="shape"):
        SPDRouter(16)(torch.randn(2, 3, 15))
    with pytest.raises(ValueError, match="basis"):
        SPDRouter(16, basis="wavelet")
    with pytest.raises(ValueError, match="k must"):
        dct_basis(4, 5)
    with pytest.raises(ValueError, match="method"):
        dct_denoise(torch.randn(2, 16), "median")
    with pytest.raises(ValueError, match="cutoff"):
        dct_denoise(torch.randn(2, 16), "lowpass")


def test_dct_diagonal_wiener_gate_and_spectrum():
    from spark_edu.spd.baselines import prior_spectrum

    power = torch.tensor([3.0, 1.0, 0.0, 0.0])
    gate = gate_for("dct_diagonal_wiener", torch.zeros(2, 4), torch.tensor([1.0, 1.0]), signal_power=power)
    torch.testing.assert_close(gate, torch.tensor([[0.75, 0.5, 0.0, 0.0]] * 2))
    clean = torch.stack([dct_basis(4)[:, 0] * 2, dct_basis(4)[:, 1] * 4])  # c = (2, 0, 0, 0) and (0, 4, 0, 0)
    torch.testing.assert_close(prior_spectrum(clean), torch.tensor([2.0, 8.0, 0.0, 0.0]), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="signal_power"):
        dct_denoise(torch.randn(2, 4), "dct_diagonal_wiener", sigma=1.0)


def _fake_records(level_values: dict[str, list[float]]) -> list[dict]:
    """Sweep records at every noise level: one per (method, seed), correlation = snr = the given value."""
    from spark_edu.chapters.spd_router.prototype import NOISE_LEVELS

    records = []
    for i, level in enumerate(NOISE_LEVELS):
        for method, values in level_values.items():
            for seed, v in enumerate(values):
                records.append(
                    {"method": method, "noise": level, "seed": seed, "correlation": v + i, "snr_improvement": -v - i}
                )
    return records


def test_claim_measurements_are_the_learned_router_over_seeds():
    """Value, low and high of each claim are the mean and 95% interval over seeds of the learned-basis
    router at that claim's noise level and metric: not another method's, level's or metric's."""
    from spark_edu.chapters.spd_router.experiments import claim_measurements
    from spark_edu.chapters.spd_router.prototype import NOISE_LEVELS

    learned, decoy = [0.2, 0.5, 1.1], [9.0, 9.5]
    records = _fake_records({"router, learned basis": learned, "router, DCT basis": decoy})
    proto = {
        lv: {"correlation": [0.1 * i, 0.3], "snr_improvement": [-1.0, 2.0 + i]} for i, lv in enumerate(NOISE_LEVELS)
    }
    measurements = {m.key: m for m in claim_measurements(records, proto)}
    for i, level in enumerate(NOISE_LEVELS):
        for metric, sign, short in (("correlation", 1, "corr"), ("snr_improvement", -1, "snr")):
            expected = [sign * (v + i) for v in learned]
            m = measurements[f"spark.spd.{short}.n{level}"]
            assert m.value == pytest.approx(statistics.mean(expected))
            half = 4.303 * statistics.stdev(expected) / math.sqrt(3)  # 95% Student-t, 2 degrees of freedom
            assert (m.low, m.high) == pytest.approx((m.value - half, m.value + half))
            p = proto[level][metric]
            assert f"re-run: {statistics.mean(p):.3f} [{min(p):.3f}, {max(p):.3f}]" in m.reason
            assert [r["seed"] for r in m.details["records"] if r["method"] == "router, learned basis"] == [0, 1, 2]
            assert {r["noise"] for r in m.details["records"]} == {level}


def test_prototype_verdicts_follow_the_measured_interval():
    """A table whose seeds bracket each claimed number reproduces every claim; shifting the same
    values away from the claims makes every verdict 'differs'."""
    from spark_edu.chapters.spd_router.prototype import NOISE_LEVELS, prototype_measurements
    from spark_edu.claims import CLAIMS, DIFFERS, REPRODUCED, compare

    def table(shift: float) -> dict:
        out = {}
        for lv in NOISE_LEVELS:
            corr, snr = CLAIMS[f"spark.spd.corr.n{lv}"].claimed, CLAIMS[f"spark.spd.snr.n{lv}"].claimed
            out[lv] = {
                "correlation": [corr - 0.01 + shift, corr + 0.01 + shift],
                "snr_improvement": [snr - 0.5 + 10 * shift, snr + 0.5 + 10 * shift],
            }
        return out

    assert {r.verdict for r in compare(prototype_measurements(table(0.0))).rows} == {REPRODUCED}
    assert {r.verdict for r in compare(prototype_measurements(table(0.5))).rows} == {DIFFERS}


def test_claim_measurements_answer_every_claim_once():
    from spark_edu.chapters.spd_router.experiments import SweepConfig, claim_measurements, noise_sweep
    from spark_edu.chapters.spd_router.prototype import prototype_measurements, prototype_table
    from spark_edu.claims import claims_for

    threads = torch.get_num_threads()
    records = noise_sweep(seeds=(0,), config=SweepConfig(steps=3, batch=8, test_signals=16))
    proto = prototype_table(seeds=range(2))
    every = sorted(c.key for c in claims_for("spd_router"))
    assert sorted(m.key for m in claim_measurements(records, proto)) == every  # the statement included
    numbers = sorted(c.key for c in claims_for("spd_router") if not c.is_statement)
    assert sorted(m.key for m in prototype_measurements(proto)) == numbers  # the prototype re-runs the numbers
    assert torch.get_num_threads() == threads  # training ran single-threaded, then the setting came back


@pytest.mark.parametrize("basis, T", [("learned", 31), ("dct", 1), ("learned", 5)])
def test_forward_is_decompose_without_the_structured_part(basis, T):
    """forward skips the structured part in input space: y and the loss are decompose's bitwise; the
    gradients to float rounding (x feeds four branches, whose contributions autograd adds in another order)."""
    torch.manual_seed(0)
    router = SPDRouter(32, basis=basis)
    x = torch.randn(3, T, 32, requires_grad=True)
    y, loss = router(x)
    grads = torch.autograd.grad(y.square().sum() + loss, (x, *router.parameters()))
    parts = router.decompose(x)
    ref = torch.autograd.grad(parts.y.square().sum() + parts.separation_loss, (x, *router.parameters()))
    assert torch.equal(y, parts.y) and torch.equal(loss, parts.separation_loss)
    for a, b in zip(grads, ref):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="x must have shape"):
        router(torch.randn(3, T, 31))


def test_saved_result_tables():
    from spark_edu.chapters.spd_router.experiments import format_sweep, summarize
    from spark_edu.chapters.spd_router.nonstationary import CONDITIONS, format_conditions
    from spark_edu.chapters.spd_router.saved import load_results

    saved = load_results()
    records = saved["stationary"]["records"]
    sweep = format_sweep(records)
    levels = sorted({r["noise"] for r in records})
    assert sweep.columns[1:3] == [f"ρ, σ = {levels[0]}", f"gain dB, σ = {levels[0]}"]
    learned = sweep.rows[0]
    assert learned[0] == "router, learned basis"
    assert learned[2] == summarize(records, "snr_improvement")[("router, learned basis", levels[0])]
    mixed = [r for c in CONDITIONS for r in saved["nonstationary"][c]["records"]]
    table = format_conditions(mixed)
    assert [c for c in CONDITIONS if any(row[0] == c for row in table.rows)] == list(CONDITIONS)
    band_row = next(row for row in table.rows if row[0] == "band varies")
    assert band_row[table.columns.index("σ < 0.2")] is None and "—" in repr(table)
