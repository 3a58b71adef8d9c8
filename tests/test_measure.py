"""The one Student-t interval every chapter uses, checked against scipy once."""

import pytest
import torch

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


MB = 2**20


def test_peak_memory_counts_frees_inside_a_parent_at_their_time():
    def nested():
        a = torch.ones(256, 1024)  # 1 MB
        b = torch.cat([a, a])  # 2 MB: 3 MB live
        del a
        c = b + 1  # 2 MB: 4 MB live at the peak
        return c.sum()

    assert measure.peak_memory_bytes(nested) == pytest.approx(4 * MB, rel=0.01)


def test_peak_memory_counts_a_buffer_freed_before_the_op_returns():
    x = torch.ones(512, 512)

    def internal():
        return torch.linalg.norm(x @ x)  # the 1 MB product lives only inside this line

    assert measure.peak_memory_bytes(internal) >= 1 * MB


def test_peak_memory_of_eager_flex_holds_the_score_matrix():
    import warnings

    from spark_edu.attention.flex import available, flex_sparse_attention

    if not available():
        pytest.skip("FlexAttention needs torch >= 2.5")
    B, H, L = 1, 4, 1024
    q = torch.randn(B, H, L, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager flex warns that it is slow
        peak = measure.peak_memory_bytes(lambda: flex_sparse_attention(q, q, q, None, compiled=False))
    assert peak >= B * H * L * L * 4  # at least one float32 score matrix


def test_peak_of_timeline_is_the_largest_running_sum():
    assert measure.peak_of_timeline([(0, 5), (1, 3), (2, -5), (3, 4), (4, -7)]) == 8
    assert measure.peak_of_timeline([]) == 0


def test_paired_times_alternate_the_order_and_ratios_are_per_round():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = measure.paired_times(fns, rounds=4, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]  # warm-up, then alternating rounds
    assert {name: len(ts) for name, ts in times.items()} == {"a": 4, "b": 4}
    ratio = measure.paired_ratio({"base": [2.0, 4.0, 6.0, 8.0, 10.0], "new": [1.0, 1.0, 2.0, 2.0, 2.0]}, "base", "new")
    assert ratio.median == 4.0 and (ratio.q1, ratio.q3) == (3.0, 4.0) and ratio.rounds == 5  # ratios 2, 4, 3, 4, 5
    assert ratio.baseline_ms == 6000.0 and ratio.candidate_ms == 2000.0
    with pytest.raises(ValueError, match="not among"):
        measure.paired_ratio(times, "a", "c")
    with pytest.raises(ValueError, match="rounds"):
        measure.paired_times(fns, rounds=0)
