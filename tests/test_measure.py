"""The one Student-t interval every chapter uses, checked against scipy once."""

import pytest

from spark_edu import measure


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df, t in measure._T975.items():
        assert abs(t - stats.t.ppf(0.975, df)) < 5e-4


@pytest.mark.parametrize("values", [[0.70, 0.82, 0.91, 0.64], [1.0, 2.0, 3.0], [5.2, 4.9, 5.1, 5.0, 5.3, 4.8, 5.05]])
def test_mean_interval_is_scipys_t_interval(values):
    stats = pytest.importorskip("scipy.stats")
    mean, low, high = measure.mean_interval(values)
    ref_low, ref_high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    assert mean == pytest.approx(sum(values) / len(values))
    assert low == pytest.approx(ref_low, abs=1e-3) and high == pytest.approx(ref_high, abs=1e-3)


def test_mean_interval_clips_and_handles_small_samples():
    assert measure.mean_interval([1.0, 1.0, 1.0], 0.0, 1.0) == (1.0, 1.0, 1.0)
    assert measure.mean_interval([0.99, 0.5], 0.0, 1.0)[2] == 1.0  # clipped to an accuracy's range
    assert measure.mean_interval([0.4]) == (0.4, 0.4, 0.4)
    with pytest.raises(ValueError, match="empty"):
        measure.mean_interval([], 0.0, 1.0)
