"""Tests for spark_edu.moe: routers, capacity, aux losses, metrics, dispatch, bad input."""

import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from spark_edu.moe import (
    DISPATCH,
    Experts,
    MoEConfig,
    MoELayer,
    Router,
    RouterConfig,
    Routing,
    balance_cv,
    balance_entropy,
    coefficient_of_variation,
    dense_gates,
    dispatch_dense,
    dispatch_loop,
    dispatch_sorted,
    dropped_rate,
    expert_capacity,
    expert_specialisation,
    load_balancing_loss,
    load_fractions,
    max_violation,
    normalised_mutual_information,
    router_z_loss,
    routing_matrix,
    specialisation,
    top_k_routing,
)

E = 8


def logits_for(T=64, E=E, seed=0, dtype=torch.float64):
    return torch.randn(T, E, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- routers ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, E])
def test_top_k_gates_sum_to_one_over_chosen_experts(k):
    r = top_k_routing(logits_for(), k)
    torch.testing.assert_close(r.gates.sum(-1), torch.ones(64, dtype=torch.float64))
    assert bool((r.gates > 0).all()) and bool(r.kept.all())
    assert all(len(set(row.tolist())) == k for row in r.indices)  # k distinct experts per token
    # the chosen experts are the k most probable ones, best first
    expected = r.probs.argsort(dim=-1, descending=True)[:, :k]
    assert torch.equal(r.indices, expected)


def test_renormalised_gates_equal_softmax_over_kept_logits():
    """Shazeer et al.'s softmax(KeepTopK(H, k)) is the renormalised top-k of the full softmax."""
    logits = logits_for()
    r = top_k_routing(logits, 2)
    masked = torch.full_like(logits, -math.inf).scatter(1, r.indices, logits.gather(1, r.indices))
    torch.testing.assert_close(r.gates, masked.softmax(-1).gather(1, r.indices))


def test_unnormalised_gates_are_the_softmax_probabilities():
    r = top_k_routing(logits_for(), 2, renormalize=False)
    torch.testing.assert_close(r.gates, r.probs.gather(1, r.indices))
    assert bool((r.gates.sum(-1) < 1).all())


def test_noisy_router_noise_only_in_training_and_reproducible():
    torch.manual_seed(0)
    router = Router(RouterConfig(d_model=16, n_experts=E, k=2, noise=1.0))
    x = torch.randn(200, 16)
    router.eval()
    plain = router(x)
    torch.testing.assert_close(plain.logits, router.gate(x))  # no noise at evaluation
    router.train()
    a = router(x, torch.Generator().manual_seed(3))
    b = router(x, torch.Generator().manual_seed(3))
    assert torch.equal(a.indices, b.indices)  # same generator, same noise
    assert not torch.equal(a.indices, plain.indices)  # noise changes choices (softplus(0) ≈ 0.69 std)
    load_balancing_loss(a.probs, a.indices, 1.0).backward()
    assert router.noise_gate.weight.grad is not None and router.noise_gate.weight.grad.abs().sum() > 0


# --- capacity and dropping --------------------------------------------------------------


def test_capacity_formula():
    assert expert_capacity(4096, 8, 2, 1.0) == 1024
    assert expert_capacity(10, 4, 2, 1.25) == math.ceil(1.25 * 10 * 2 / 4) == 7


@pytest.mark.parametrize("factor", [0.5, 1.0, 1.25])
def test_capacity_respected_and_drops_counted(factor):
    logits = logits_for(T=256) + torch.tensor([3.0] + [0.0] * (E - 1), dtype=torch.float64)  # expert 0 popular
    r = top_k_routing(logits, 2, capacity_factor=factor)
    loads = torch.bincount(r.indices[r.kept], minlength=E)
    assert int(loads.max()) <= r.capacity == math.ceil(factor * 256 * 2 / E)
    dropped = int((~r.kept).sum())
    assert dropped > 0
    assert dropped_rate(r.kept) == pytest.approx(dropped / (256 * 2))
    assert bool((r.gates[~r.kept] == 0).all()) and bool((r.gates[r.kept] > 0).all())
    # each over-full expert is filled exactly to capacity
    wanted = torch.bincount(r.indices.reshape(-1), minlength=E)
    torch.testing.assert_close(loads, wanted.clamp(max=r.capacity))


def test_first_choices_claim_places_before_second_choices():
    # 4 tokens, 2 experts, k=2, factor 0.5: C = ceil(0.5 · 4 · 2 / 2) = 2 places per expert
    logits = torch.tensor([[2.0, 1.0], [1.0, 2.0], [2.0, 1.0], [2.0, 1.0]])
    r = top_k_routing(logits, 2, capacity_factor=0.5)
    assert r.capacity == 2
    # first choices: expert 0 <- tokens 0, 2, (3 dropped); expert 1 <- token 1.
    # second choices, in token order: token 0 -> expert 1 (second place, kept); token 1 -> expert 0
    # (full: dropped although token 1 comes before token 2); tokens 2, 3 -> expert 1 (full).
    assert r.kept.tolist() == [[True, True], [True, False], [True, False], [False, False]]
    assert dropped_rate(r.kept) == pytest.approx(4 / 8)


def test_large_capacity_drops_nothing():
    r = top_k_routing(logits_for(), 2, capacity_factor=float(E))
    assert bool(r.kept.all()) and dropped_rate(r.kept) == 0.0


# --- auxiliary losses ---------------------------------------------------------------------


def test_switch_loss_hand_computed():
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], dtype=torch.float64)
    r = top_k_routing(probs.log(), 1)
    assert r.indices.reshape(-1).tolist() == [0, 0, 1, 0]
    # f = (3/4, 1/4), P = (0.65, 0.35): alpha · N · Σ f P = 0.5 · 2 · (0.4875 + 0.0875) = 0.575
    loss = load_balancing_loss(r.probs, r.indices, alpha=0.5)
    assert float(loss) == pytest.approx(0.575)


def test_switch_loss_is_alpha_at_balance_and_gradient_flows_through_probabilities():
    logits = torch.zeros(8, 4, dtype=torch.float64, requires_grad=True)
    indices = torch.arange(8).remainder(4)[:, None]  # each expert gets 2 of 8 tokens
    loss = load_balancing_loss(logits.softmax(-1), indices, alpha=0.01)
    assert float(loss.detach()) == pytest.approx(0.01)
    skewed = torch.zeros(8, 1, dtype=torch.long)  # all tokens on expert 0
    (grad,) = torch.autograd.grad(load_balancing_loss(logits.softmax(-1), skewed, 1.0), logits)
    assert bool((grad[:, 0] > 0).all()) and bool((grad[:, 1:] < 0).all())  # pushes mass off expert 0


def test_z_loss_hand_computed():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]], dtype=torch.float64)
    # logsumexp = log 2 and log 4 = 2 log 2: mean of squares = 2.5 (log 2)^2
    assert float(router_z_loss(logits, beta=1.0)) == pytest.approx(2.5 * math.log(2) ** 2)
    assert float(router_z_loss(logits, beta=0.001)) == pytest.approx(0.0025 * math.log(2) ** 2)


# --- metrics ------------------------------------------------------------------------------


def test_load_fractions_against_numpy_counts():
    r = top_k_routing(logits_for(T=100), 3)
    counts = np.bincount(r.indices.numpy().ravel(), minlength=E)
    np.testing.assert_allclose(load_fractions(r.indices, E).numpy(), counts / 300)


def test_balance_metrics_on_constructed_cases():
    balanced = torch.full((E,), 1 / E)
    assert coefficient_of_variation(balanced) == pytest.approx(0, abs=1e-12)
    assert balance_cv(balanced) == pytest.approx(1) and balance_entropy(balanced) == pytest.approx(1)
    assert max_violation(balanced) == pytest.approx(0, abs=1e-12)
    collapsed = torch.zeros(E).index_fill(0, torch.tensor([0]), 1.0)
    assert coefficient_of_variation(collapsed) ** 2 == pytest.approx(E - 1)
    assert balance_cv(collapsed) == 0.0 and balance_entropy(collapsed) == pytest.approx(0)
    assert max_violation(collapsed) == pytest.approx(E - 1)
    half = torch.tensor([0.25] * 4 + [0.0] * 4)  # half the experts idle: CV² = 1
    assert balance_cv(half) == pytest.approx(0, abs=1e-12)
    assert balance_entropy(half) == pytest.approx(1 - math.log(2) / math.log(E))
    mild = torch.tensor([0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.15, 0.15])
    assert balance_entropy(mild) == pytest.approx(entropy(mild.numpy()) / math.log(E))
    assert balance_cv(mild) == pytest.approx(1 - (np.std(mild.numpy()) * E) ** 2)


def test_specialisation_on_known_cases():
    C = 8
    assert specialisation(torch.eye(C)) == pytest.approx(1.0)  # one category per expert
    assert specialisation(torch.ones(C, E)) == pytest.approx(0.0, abs=1e-12)  # every expert sees all
    collapsed = torch.zeros(C, E)
    collapsed[:, 0] = 1.0  # one expert takes everything: it sees all categories equally
    assert specialisation(collapsed) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(float(expert_specialisation(collapsed)[1]))  # idle expert: undefined
    pairs = torch.zeros(C, E)
    for c in range(C):
        pairs[c, c // 2] = 1.0  # two categories per expert (4 experts idle)
    assert specialisation(pairs) == pytest.approx(1 - math.log(2) / math.log(C))


def test_specialisation_matches_entropy_reference_and_nmi_under_uniform_categories():
    g = torch.Generator().manual_seed(0)
    M = torch.rand(8, E, generator=g, dtype=torch.float64) ** 3
    w = M.sum(0) / M.sum()
    ref = sum(float(w[e]) * (1 - entropy(M[:, e].numpy()) / math.log(8)) for e in range(E))
    assert specialisation(M) == pytest.approx(ref)
    M_uniform = M / M.sum(1, keepdim=True)  # every category carries the same mass
    assert normalised_mutual_information(M_uniform) == pytest.approx(specialisation(M_uniform))


def test_routing_matrix_hand_case():
    categories = torch.tensor([0, 0, 1])
    indices = torch.tensor([[0, 1], [1, 0], [1, 2]])
    gates = torch.tensor([[0.7, 0.3], [0.6, 0.4], [0.5, 0.0]])  # token 2's second choice dropped
    M = routing_matrix(categories, indices, gates, 2, 3)
    torch.testing.assert_close(M, torch.tensor([[1.1, 0.9, 0.0], [0.0, 0.5, 0.0]], dtype=torch.float64))
    counts = routing_matrix(categories, indices, gates, 2, 3, weight="count")
    torch.testing.assert_close(counts, torch.tensor([[2.0, 2.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64))


# --- dispatch -----------------------------------------------------------------------------


def make_problem(T=37, D=6, H=5, k=2, capacity_factor=None, seed=0):
    torch.manual_seed(seed)
    experts = Experts(E, D, H).double()
    x = torch.randn(T, D, dtype=torch.float64, requires_grad=True)
    logits = torch.randn(T, E, dtype=torch.float64)
    logits[:, -1] -= 100.0  # expert E-1 never chosen: an empty expert
    if capacity_factor is not None:
        logits[:, :2] += 3.0  # experts 0 and 1 are everyone's favourites: they overflow
    logits.requires_grad_(True)
    return x, logits, experts, top_k_routing(logits, k, capacity_factor)


@pytest.mark.parametrize("k,capacity_factor", [(1, None), (2, None), (3, None), (2, 0.75)])
@pytest.mark.parametrize("path", ["loop", "sorted"])
def test_dispatch_agrees_with_dense_oracle_in_values_and_gradients(path, k, capacity_factor):
    x, logits, experts, routing = make_problem(k=k, capacity_factor=capacity_factor)
    params = [x, logits, *experts.parameters()]
    cot = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = DISPATCH[path](x, routing, experts)
    oracle = dispatch_dense(x, routing, experts)
    torch.testing.assert_close(out, oracle, rtol=1e-10, atol=1e-12)
    grads = torch.autograd.grad((out * cot).sum(), params, retain_graph=True)
    grads_oracle = torch.autograd.grad((oracle * cot).sum(), params)
    for a, b in zip(grads, grads_oracle):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    if capacity_factor is not None:  # a token with every assignment dropped gets exactly zero
        fully_dropped = ~routing.kept.any(-1)
        assert bool(fully_dropped.any()) and bool((out[fully_dropped] == 0).all())


def test_dense_oracle_against_per_token_sum():
    x, _, experts, routing = make_problem(T=5)
    for t in range(5):
        expected = sum(
            routing.gates[t, j] * experts.expert(int(routing.indices[t, j]), x[t : t + 1])[0] for j in range(routing.k)
        )
        torch.testing.assert_close(dispatch_dense(x, routing, experts)[t], expected)
    assert torch.equal(dense_gates(routing).count_nonzero(-1), torch.full((5,), 2))


def test_sorted_dispatch_gradcheck():
    x, logits, experts, _ = make_problem(T=9, D=3, H=4)

    def f(x, logits):
        return dispatch_sorted(x, top_k_routing(logits, 2), experts)

    assert torch.autograd.gradcheck(f, (x, logits))


def test_grouped_ideal_equals_per_expert_loop():
    experts = Experts(4, 6, 5).double()
    xg = torch.randn(4, 3, 6, dtype=torch.float64)
    expected = torch.stack([experts.expert(e, xg[e]) for e in range(4)])
    torch.testing.assert_close(experts.grouped(xg), expected)


def test_moe_layer_any_leading_shape_and_all_dispatch_paths_agree():
    x = torch.randn(3, 5, 16)
    outs = []
    for path in DISPATCH:
        torch.manual_seed(0)
        layer = MoELayer(MoEConfig(d_model=16, d_hidden=8, balance_alpha=0.01, z_beta=0.001, dispatch=path))
        o = layer(x)
        assert o.out.shape == x.shape and o.routing.indices.shape == (15, 2) and o.aux_loss.dim() == 0
        outs.append(o.out)
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(outs[0], outs[2], rtol=1e-5, atol=1e-6)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, E + 1, 1.5, True])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be an integer"):
        top_k_routing(logits_for(), k)
    with pytest.raises(ValueError, match="k must be an integer"):
        RouterConfig(n_experts=E, k=k)


@pytest.mark.parametrize("factor", [0.0, -1.0, float("nan")])
def test_bad_capacity_factor(factor):
    with pytest.raises(ValueError, match="capacity_factor"):
        top_k_routing(logits_for(), 2, capacity_factor=factor)
    with pytest.raises(ValueError, match="capacity_factor"):
        MoEConfig(capacity_factor=factor)


def test_nan_logits_and_bad_shapes():
    bad = logits_for()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="logits contains NaN"):
        top_k_routing(bad, 2)
    with pytest.raises(ValueError, match="logits must have 2 dimensions"):
        top_k_routing(torch.zeros(E), 1)
    x, _, experts, routing = make_problem()
    with pytest.raises(ValueError, match="tokens"):
        dispatch_sorted(x[:-1], routing, experts)
    with pytest.raises(ValueError, match="last dimension"):
        dispatch_loop(torch.zeros(x.shape[0], 4, dtype=torch.float64), routing, experts)
    with pytest.raises(ValueError, match="experts"):
        dispatch_dense(x, routing, Experts(4, 6, 5).double())
    with pytest.raises(ValueError, match="must share T"):
        load_balancing_loss(torch.full((4, E), 1 / E), torch.zeros(5, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 16\)"):
        MoELayer(MoEConfig(d_model=16))(torch.zeros(3, 8))


def test_bad_config_and_metric_input():
    with pytest.raises(ValueError, match="noise"):
        RouterConfig(noise=-0.1)
    with pytest.raises(ValueError, match="dispatch must be one of"):
        MoEConfig(dispatch="magic")
    with pytest.raises(ValueError, match="sum to 1"):
        balance_cv(torch.tensor([0.5, 0.2]))
    with pytest.raises(ValueError, match="indices must lie in"):
        load_fractions(torch.tensor([[0, 9]]), E)
    with pytest.raises(ValueError, match="weight must be"):
        routing_matrix(
            torch.zeros(2, dtype=torch.long), torch.zeros(2, 1, dtype=torch.long), torch.ones(2, 1), 2, 2, weight="mean"
        )
    with pytest.raises(ValueError, match="alpha"):
        load_balancing_loss(torch.full((4, E), 1 / E), torch.zeros(4, 1, dtype=torch.long), alpha=-1)


def test_routing_is_a_frozen_record():
    r = top_k_routing(logits_for(), 2)
    assert isinstance(r, Routing) and r.n_experts == E and r.k == 2
    with pytest.raises(AttributeError):
        r.capacity = 3


# --- the task, the experiments, the benchmark (small sizes) --------------------------------

from spark_edu.tasks.token_categories import CATEGORIES, TokenCategoryConfig, TokenCategoryTask  # noqa: E402


def test_task_is_seeded_and_category_is_readable():
    task = TokenCategoryTask()
    a = task.sample(2000, torch.Generator().manual_seed(5))
    b = task.sample(2000, torch.Generator().manual_seed(5))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert a.x.shape == (2000, 32) and int(a.y.max()) < 4 and torch.equal(a.word // 8, a.category)
    # the nearest signature recovers the category for most tokens: the router has something to learn
    guess = (a.x @ task.signatures.t()).argmax(-1)
    assert float((guess == a.category).float().mean()) > 0.8
    # the label follows the category's own rule
    rule = torch.einsum("njd,nd->nj", task.rules[a.category], a.x - 3.0 * task.signatures[a.category]).argmax(-1)
    assert torch.equal(rule, a.y)
    assert task.describe(a, 0).endswith(f"class {int(a.y[0])}") and CATEGORIES[int(a.category[0])] in task.describe(
        a, 0
    )


def test_task_bad_config():
    with pytest.raises(ValueError, match="category_probs"):
        TokenCategoryConfig(category_probs=(0.5, 0.5))
    with pytest.raises(ValueError, match="d_model"):
        TokenCategoryConfig(d_model=4)


def test_reproduce_returns_one_measurement_per_claim_from_a_small_sweep():
    from spark_edu.claims import claims_for, compare
    from spark_edu.chapters.moe.experiments import SETTINGS, reproduce, sweep

    results = sweep(SETTINGS, seeds=(0, 1), steps=15)
    measurements = reproduce(results=results)
    assert [m.key for m in measurements] == [c.key for c in claims_for("moe")]
    table = compare(measurements)
    assert table.counts()["not reproducible as stated"] == 2  # balance and specialisation
    for run in results["untrained"]:
        assert run.load_history.shape == (0, 8)
        assert 0 <= run.metrics["balance_cv"] <= run.metrics["balance_entropy"] <= 1
    assert results["no aux loss"][0].load_history.shape == (15, 8)
    again = sweep({"no aux loss": SETTINGS["no aux loss"]}, seeds=(0,), steps=15)
    assert again["no aux loss"][0].metrics == results["no aux loss"][0].metrics  # seeded: repeatable


def test_render_returns_a_figure():
    import matplotlib

    matplotlib.use("Agg")
    from spark_edu.chapters.moe.figures import render

    fig = render(k=1, n_experts=4, alpha=0.0, noise=1.0, capacity_factor=1.0, steps=12)
    assert len(fig.axes) >= 2
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_bench_runs_small_and_writes_json(tmp_path, capsys):
    from spark_edu.__main__ import main

    out = tmp_path / "moe.json"
    assert (
        main(
            [
                "bench",
                "moe",
                "--tokens",
                "64",
                "--d-model",
                "16",
                "--d-hidden",
                "32",
                "--repeats",
                "1",
                "--peak-size",
                "32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert set(result["median_ms"]) == {
        "route",
        "permute",
        "loop",
        "sorted",
        "floor",
        "one_piece",
        "grouped",
        "weights",
        "ideal",
        "dense",
        "peak",
    }
    ms = result["median_ms"]  # the floor is the faster of its two ways in every round, so its median is too
    assert ms["floor"] <= min(ms["one_piece"], ms["grouped"])
    assert set(result["cases"]) == {"E=64"}  # a 64-token batch is already small: no T=256 cases
    assert (
        0 < result["sorted_fraction_of_floor"][0]
        and 0 < result["sorted_fraction_of_bound"][0]
        and result["cases"]["E=64"]["rows_per_expert"] == 2
    )
    no_dense = {"route", "permute", "loop", "sorted", "floor", "one_piece", "grouped", "weights", "ideal", "peak"}
    assert all(set(case["median_ms"]) == no_dense for case in result["cases"].values())
    assert all(v > 0 for v in result["ratios"].values()) and 0 < result["routing_share"] < 1
    assert "CPU capability" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:  # 3·2 tokens do not split over 8 experts: one line, exit 2
        main(["bench", "moe", "--tokens", "3", "--repeats", "1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("python -m spark_edu bench moe: error: tokens")


def test_bench_report_tables_from_the_saved_result():
    from spark_edu.chapters.moe.bench import TARGETS, format_report, saved_result, target_outcomes

    saved = saved_result()
    paths, ratios, cases = format_report(saved)
    names = ["loop", "sorted", "floor", "one_piece", "grouped", "ideal", "dense", "peak", "route", "permute"]
    assert [row[0] for row in paths.rows] == names
    assert paths.rows[-1][2:4] == [None, None] and "CPU capability" in paths.caption
    outcomes = {row[0]: row[4] for row in ratios.rows if row[3] is not None}
    assert outcomes == {name: target_outcomes(saved)[name] for name in TARGETS}
    assert [row[0] for row in cases.rows] == ["main", *saved["cases"]]
    median, q1, q3 = saved["sorted_fraction_of_floor"]  # the main case's fraction of the floor, median [IQR]
    assert f"{median:.0%} [{q1:.0%}, {q3:.0%}]" in repr(cases)
    assert all(r["sorted_fraction_of_floor"][0] <= 1 for r in [saved, *saved["cases"].values()])  # a floor


def test_summary_table_shows_mean_min_max():
    from spark_edu.chapters.moe.experiments import format_summary

    table = format_summary({"no aux loss": {"balance_cv": (0.98, 0.97, 0.999), "accuracy": (0.8, 0.75, 0.85)}})
    assert repr(table).splitlines()[1:] == [
        "setting                     1−CV²              accuracy",
        "-----------  --------------------  --------------------",
        "no aux loss  0.980 [0.970, 0.999]  0.800 [0.750, 0.850]",
    ]


def test_the_pre_grouped_floor_computes_what_the_grouped_experts_compute():
    from spark_edu.chapters.moe.bench import _pre_grouped
    from spark_edu.moe import Experts

    torch.manual_seed(0)
    experts = Experts(4, 8, 16)
    xg = torch.randn(4, 5, 8)  # (E, rows, D), already grouped
    with torch.no_grad():
        torch.testing.assert_close(torch.stack(_pre_grouped(xg, experts)), experts.grouped(xg))


def test_bench_command_names_only_what_differs_from_the_defaults():
    from dataclasses import asdict

    from spark_edu.chapters.moe.bench import BenchConfig
    from spark_edu.chapters.moe.commands import bench_command

    result = {"config": asdict(BenchConfig(tokens=512, threads=1))}
    assert bench_command(result) == "python -m spark_edu bench moe --tokens 512 --threads 1"
    assert bench_command({"config": asdict(BenchConfig())}, "b.json") == "python -m spark_edu bench moe --out b.json"
