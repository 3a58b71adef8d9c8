"""Device, seeding, validation, the training loop, measurement helpers, plots, widgets and
the shared transformer."""

from dataclasses import replace

import matplotlib
import pytest
import torch

from spark_edu.device import cpu_capability, describe_environment, get_device, seed_everything
from spark_edu.display import check_close, check_shape, show_source
from spark_edu.chapters.attention_from_scratch.experiments import loglog_slope, measure_dense_scaling
from spark_edu.chapters.attention_from_scratch.figures import render
from spark_edu.measure import peak_memory_bytes, time_it
from spark_edu.train import TrainConfig, make_optimizer, train
from spark_edu.transformer import Transformer, TransformerConfig, count_parameters
from spark_edu.validation import all_finite, check_finite, check_range

matplotlib.use("Agg")


def test_device_choice():
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert get_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="prefer"):
        get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            get_device("cuda")
    assert cpu_capability() in describe_environment().values()


def test_seeding_is_deterministic():
    seed_everything(3)
    a = torch.randn(5)
    g1 = seed_everything(3)
    b = torch.randn(5)
    assert torch.equal(a, b)
    assert torch.equal(torch.randn(3, generator=g1), torch.randn(3, generator=seed_everything(3)))
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


def test_check_range_messages():
    check_range("beta", 0.5, 0, 1, high_inclusive=False)
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\), got 1"):
        check_range("beta", 1, 0, 1, high_inclusive=False)
    with pytest.raises(ValueError, match="beta"):
        check_range("beta", float("nan"), 0, 1)
    with pytest.raises(ValueError, match="must be a number"):
        check_range("beta", "x", 0, 1)


def _regression_problem():
    w_true = torch.tensor([[2.0], [-1.0]])

    def make_batch(g):
        x = torch.randn(32, 2, generator=g)
        return x, x @ w_true

    return make_batch, lambda model, batch: torch.nn.functional.mse_loss(model(batch[0]), batch[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_all_finite_agrees_with_isfinite_entry_by_entry(dtype):
    top = torch.finfo(dtype).max
    cases = [
        torch.randn(3, 5, dtype=dtype),
        torch.full((4,), top / 2, dtype=dtype),  # finite entries whose sum overflows to +inf
        torch.tensor([top, -top, top], dtype=dtype),
        torch.tensor([1.0, float("nan")], dtype=dtype),
        torch.tensor([float("inf"), -float("inf")], dtype=dtype),  # the sum is NaN
        torch.tensor([-float("inf"), 2.0], dtype=dtype),
        torch.empty(0, dtype=dtype),
    ]
    for x in cases:
        assert all_finite(x) == bool(torch.isfinite(x).all()), x
    with pytest.raises(ValueError, match="x contains NaN"):
        check_finite("x", cases[3])
    check_finite("x", cases[1])  # overflowing sum, finite entries: accepted


def test_train_reduces_loss_and_is_deterministic():
    make_batch, loss_fn = _regression_problem()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        history = train(model, make_batch, loss_fn, TrainConfig(steps=150, lr=0.05))
        runs.append(history)
    assert runs[0].losses == runs[1].losses
    assert runs[0].final_loss < 0.01 * runs[0].losses[0]
    assert len(runs[0].grad_norms) == 150


def test_train_rejects_bad_config_and_loss():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="grad_clip"):
        TrainConfig(grad_clip=-1.0)
    make_batch, _ = _regression_problem()
    with pytest.raises(ValueError, match="finite scalar"):
        train(torch.nn.Linear(2, 1), make_batch, lambda m, b: m(b[0]), TrainConfig(steps=1))


def test_time_and_memory_measurements():
    timing = time_it(lambda: torch.ones(10).sum(), repeats=3, warmup=0)
    assert timing.repeats == 3 and timing.min_s <= timing.median_s <= timing.max_s
    nbytes = peak_memory_bytes(lambda: torch.ones(1024, 1024))  # 4 MiB
    assert 4 * 2**20 <= nbytes < 5 * 2**20
    with pytest.raises(ValueError, match="repeats"):
        time_it(lambda: None, repeats=0)


def test_dense_scaling_memory_is_quadratic():
    points = measure_dense_scaling(lengths=(256, 512, 1024), heads=1, dim=16, rounds=1)
    slope = loglog_slope([p.length for p in points], [p.peak_bytes for p in points])
    assert 1.8 < slope < 2.2
    assert all(p.peak_bytes >= p.score_matrix_bytes for p in points)
    assert loglog_slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)


def test_render_attention_and_widget_builds():
    fig = render(length=5, masking="none")
    assert len(fig.axes) >= 3
    with pytest.raises(ValueError, match="masking"):
        render(masking="diagonal")
    from spark_edu.widgets import choice, interactive, slider

    widget = interactive(render, length=slider(6, 2, 10), masking=choice(["causal", "none"]))
    assert widget.live.children[0].value == 6  # the live ipywidget, beside its static twin


def test_display_helpers():
    assert "def attention_weights" in repr(
        show_source(render.__globals__["attention"].__globals__["attention_weights"])
    )
    assert "✓" in check_shape(torch.zeros(2, 3), (2, 3))
    with pytest.raises(AssertionError, match="expected shape"):
        check_shape(torch.zeros(2, 3), (3, 2))
    with pytest.raises(AssertionError):
        check_close(torch.zeros(3), torch.ones(3))


def test_transformer_shapes_parameters_and_bad_input():
    config = TransformerConfig(vocab_size=11, d_model=16, n_heads=2, n_layers=2, max_len=12, out_dim=3)
    model = Transformer(config)
    tokens = torch.randint(0, 11, (4, 12))
    assert model(tokens).shape == (4, 12, 3)
    C, F = 16, 64
    per_block = 2 * 2 * C + 3 * C * C + C * C + C + C * F + F + F * C + C
    expected = 11 * C + 12 * C + 2 * per_block + 2 * C + C * 3 + 3
    assert count_parameters(model) == expected
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="token ids"):
        model(torch.full((1, 3), 11))
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="integer tensor"):
        model(torch.zeros(1, 3))


def test_glue_is_a_no_op_without_myst_nb(monkeypatch):
    import sys

    from spark_edu.display import glue

    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now raises ImportError, as on Colab
    assert glue("answer", 42) is None


def test_fused_adamw_matches_the_per_tensor_loop():
    """TrainConfig(fused=True): one kernel for all tensors, the same update to float rounding."""
    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    config = TrainConfig(lr=1e-2, weight_decay=0.01)
    optimizers = [make_optimizer(models[0], config), make_optimizer(models[1], replace(config, fused=True))]
    assert optimizers[1].defaults["fused"] and not optimizers[0].defaults["fused"]
    x = torch.randn(16, 6)
    for _ in range(5):
        for model, opt in zip(models, optimizers):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    for a, b in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="fused must be a bool"):
        TrainConfig(fused=1)
