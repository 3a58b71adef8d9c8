"""Feynman–Kac attention: exact solve vs dense inverse, series vs bound, convergence,
gradients, masking, the module as an attention factory, and bad input."""

import math
from dataclasses import replace

import pytest
import torch

from spark_edu.attention import attention
from spark_edu.fk_attention import (
    FKAttention,
    check_beta,
    check_convergence,
    fk_attention,
    fk_attention_factory,
    hops_for_tolerance,
    path_series,
    prototype_beta_limit,
    resolvent,
    series_error_bound,
    spectral_radius,
)
from spark_edu.transformer import MultiHeadSelfAttention, Transformer, TransformerConfig, count_parameters


def softmax_matrix(*shape, causal=False, dtype=torch.float64, seed=0):
    """A random attention matrix (..., T, T) with sharp-ish rows."""
    g = torch.Generator().manual_seed(seed)
    scores = 3 * torch.randn(*shape, generator=g, dtype=dtype)
    if causal:
        T = shape[-1]
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return scores.softmax(dim=-1)


def values(*shape, dtype=torch.float64, seed=1):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- exact solve ---------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [-0.9, 0.3, 0.95])
def test_resolvent_matches_dense_inverse(beta):
    A, V = softmax_matrix(2, 3, 7, 7), values(2, 3, 7, 5)
    expected = torch.linalg.inv(torch.eye(7, dtype=A.dtype) - beta * A) @ V  # independent reference
    torch.testing.assert_close(resolvent(A, V, beta), expected, atol=1e-10, rtol=1e-10)


def test_resolvent_matches_scipy():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    A, V, beta = softmax_matrix(9, 9), values(9, 4), 0.6
    expected = scipy_linalg.solve(torch.eye(9, dtype=A.dtype).numpy() - beta * A.numpy(), V.numpy())
    torch.testing.assert_close(resolvent(A, V, beta), torch.from_numpy(expected), atol=1e-10, rtol=1e-10)


def test_resolvent_solves_its_equation():
    """(I − βA) Y = V, i.e. Y = V + βAY: the one-step path recursion."""
    A, V, beta = softmax_matrix(4, 11, 11), values(4, 11, 3), 0.7
    Y = resolvent(A, V, beta)
    torch.testing.assert_close(Y, V + beta * A @ Y, atol=1e-10, rtol=1e-10)


def test_triangular_solve_matches_general_solve_for_causal():
    A, V = softmax_matrix(2, 13, 13, causal=True), values(2, 13, 4)
    torch.testing.assert_close(resolvent(A, V, 0.8, triangular=True), resolvent(A, V, 0.8), atol=1e-10, rtol=1e-10)


def test_broadcasts_one_matrix_over_many_values():
    A, V = softmax_matrix(6, 6), values(3, 6, 2)
    torch.testing.assert_close(resolvent(A, V, 0.5), torch.stack([resolvent(A, v, 0.5) for v in V]))


def test_beta_zero_keeps_values_and_normalisation_keeps_row_sums():
    A, V = softmax_matrix(5, 5), values(5, 3)
    torch.testing.assert_close(resolvent(A, V, 0.0), V)
    ones = torch.ones(5, 1, dtype=A.dtype)
    for beta in (-0.5, 0.3, 0.9):
        torch.testing.assert_close(resolvent(A, ones, beta, normalize=True), ones)  # rows of (1-β)(I-βA)⁻¹ sum to 1
        torch.testing.assert_close(resolvent(A, ones, beta), ones / (1 - beta))


# --- series and its bound -------------------------------------------------------------------
@pytest.mark.parametrize("beta", [-0.8, 0.1, 0.3, 0.7, 0.95])
@pytest.mark.parametrize("hops", [0, 1, 3, 10])
@pytest.mark.parametrize("normalize", [False, True])
def test_series_error_within_bound(beta, hops, normalize):
    A, V = softmax_matrix(3, 8, 8), values(3, 8, 4)
    error = (resolvent(A, V, beta, normalize) - path_series(A, V, beta, hops, normalize)).abs().max()
    bound = series_error_bound(A, V, beta, hops, normalize)
    assert float(error) <= bound * (1 + 1e-9)
    assert bound <= abs(beta) ** (hops + 1) / (1 - abs(beta)) * float(V.abs().max()) * 2 + 1e-12


def test_bound_is_attained_by_uniform_attention_on_constant_values():
    """A = 1/T everywhere, V = 1: every path contributes fully, so the tail equals the bound."""
    T, beta, hops = 6, 0.6, 4
    A, V = torch.full((T, T), 1 / T, dtype=torch.float64), torch.ones(T, 2, dtype=torch.float64)
    error = (resolvent(A, V, beta) - path_series(A, V, beta, hops)).abs().max()
    assert math.isclose(float(error), series_error_bound(A, V, beta, hops), rel_tol=1e-9)


def test_series_is_the_explicit_power_sum():
    A, V, beta, K = softmax_matrix(7, 7), values(7, 3), 0.4, 5
    explicit = sum(torch.linalg.matrix_power(beta * A, k) @ V for k in range(K + 1))
    torch.testing.assert_close(path_series(A, V, beta, K), explicit, atol=1e-12, rtol=1e-12)


def test_hops_for_tolerance_is_the_smallest_sufficient_k():
    for beta in (0.1, 0.3, 0.5, 0.9, -0.7):
        K = hops_for_tolerance(beta, 1e-3)
        b = abs(beta)
        assert b ** (K + 1) / (1 - b) <= 1e-3
        assert K == 0 or b**K / (1 - b) > 1e-3


# --- convergence ----------------------------------------------------------------------------
def test_softmax_matrices_have_spectral_radius_one():
    for causal in (False, True):
        rho = spectral_radius(softmax_matrix(4, 9, 9, causal=causal))
        torch.testing.assert_close(rho, torch.ones(4, dtype=torch.float64), atol=1e-8, rtol=0)


def test_series_diverges_at_beta_one_and_solve_is_singular():
    A, V = softmax_matrix(6, 6), values(6, 1)
    partial = [path_series(A, V, 1.0, K, check=False).abs().max() for K in (10, 100, 1000)]
    assert partial[0] < partial[1] < partial[2]  # grows without limit (A·1 = 1 adds a constant each hop)
    singular = torch.linalg.svdvals(torch.eye(6, dtype=A.dtype) - A).min()
    assert float(singular) < 1e-10


def test_prototype_max_entry_bound_is_wrong():
    """Uniform attention: largest entry 1/T, so the prototype allows β ≈ 0.99·T, but ρ(A) = 1."""
    T = 8
    A = torch.full((T, T), 1 / T, dtype=torch.float64)
    assert prototype_beta_limit(A) > 7.9
    with pytest.raises(ValueError, match="beta must lie in"):
        check_convergence(A, 1.5)
    # and for a non-stochastic matrix a small largest entry can hide a radius above one
    B = torch.full((4, 4), 0.9, dtype=torch.float64)  # max entry 0.9, ρ = 3.6
    assert prototype_beta_limit(B) > 1.0
    with pytest.raises(ValueError, match="rho"):
        check_convergence(B, 0.5)
    growth = [path_series(B, values(4, 1), 0.5, K, check=False).abs().max() for K in (5, 20)]
    assert growth[1] > 100 * growth[0]


def test_general_matrix_within_radius_is_accepted():
    B = torch.full((4, 4), 0.9, dtype=torch.float64)  # ρ = 3.6
    check_convergence(B, 0.25)  # ρ(βB) = 0.9
    V = values(4, 2)
    torch.testing.assert_close(path_series(B, V, 0.25, 400), resolvent(B, V, 0.25), atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("beta", [1.0, -1.0, 1.5, float("nan"), "a"])
def test_beta_out_of_range(beta):
    with pytest.raises(ValueError, match="beta must lie in"):
        check_beta(beta)
    with pytest.raises(ValueError, match="beta"):
        FKAttention(16, 2, beta=beta)


# --- gradients ------------------------------------------------------------------------------
def test_gradcheck_resolvent_and_series():
    A = softmax_matrix(2, 5, 5).requires_grad_()
    V = values(2, 5, 3).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, v: resolvent(a, v, 0.7, check=False), (A, V))
    assert torch.autograd.gradcheck(lambda a, v: path_series(a, v, 0.7, 4, normalize=True, check=False), (A, V))
    L = softmax_matrix(5, 5, causal=True).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, v: resolvent(a, v, 0.5, triangular=True, check=False), (L, V))


@pytest.mark.parametrize("n_terms", [None, 3])
@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck_through_softmax(n_terms, causal):
    q, k, v = (values(1, 2, 5, 3, seed=s).requires_grad_() for s in (0, 1, 2))
    fn = lambda q, k, v: fk_attention(q, k, v, 0.6, n_terms, causal=causal)[0]  # noqa: E731
    assert torch.autograd.gradcheck(fn, (q, k, v))


def test_module_gradients_in_double():
    torch.manual_seed(0)
    module = FKAttention(8, 2, beta=0.5, causal=True).double()
    x = values(2, 4, 8).requires_grad_()
    assert torch.autograd.gradcheck(module, (x,))


# --- masking --------------------------------------------------------------------------------
@pytest.mark.parametrize("n_terms", [None, 4])
def test_causal_output_ignores_the_future(n_terms):
    torch.manual_seed(0)
    module = FKAttention(16, 4, beta=0.8, n_terms=n_terms, causal=True)
    x = torch.randn(2, 9, 16)
    x2 = x.clone()
    x2[:, 5:] = torch.randn(2, 4, 16)
    torch.testing.assert_close(module(x)[:, :5], module(x2)[:, :5])
    assert not torch.allclose(module(x)[:, 5:], module(x2)[:, 5:])


def test_user_mask_and_fully_masked_row():
    q, k, v = values(1, 6, 4, seed=0), values(1, 6, 4, seed=1), values(1, 6, 3, seed=2)
    mask = torch.ones(6, 6, dtype=torch.bool)
    mask[:, 4] = False  # nobody may look at key 4 ...
    mask[2] = False  # ... and query 2 may look at nothing
    out, A = fk_attention(q, k, v, 0.5, mask=mask, normalize=False)
    assert float(A[..., 4].abs().max()) == 0.0
    torch.testing.assert_close(A[0, 2], torch.zeros(6, dtype=A.dtype))
    torch.testing.assert_close(out[0, 2], v[0, 2])  # only the length-0 path is left
    _, plain = attention(q, k, v, mask)
    torch.testing.assert_close(A, plain)  # same weights as the dense reference


def test_fk_with_one_hop_unnormalised_is_value_plus_beta_attention():
    q, k, v = values(2, 7, 4, seed=0), values(2, 7, 4, seed=1), values(2, 7, 4, seed=2)
    out, _ = fk_attention(q, k, v, 0.3, n_terms=1, normalize=False)
    standard, _ = attention(q, k, v)
    torch.testing.assert_close(out, v + 0.3 * standard)


# --- the module in the shared transformer ---------------------------------------------------
def test_parameter_count_matches_standard_attention_and_prototype():
    assert count_parameters(FKAttention(128, 4)) == 65_664 == count_parameters(MultiHeadSelfAttention(128, 4))


def test_module_as_attention_factory_and_series_matches_exact():
    config = TransformerConfig(vocab_size=20, d_model=32, n_heads=4, n_layers=2, out_dim=5, causal=False)
    exact = Transformer(config, fk_attention_factory(beta=0.5))
    series = Transformer(config, fk_attention_factory(beta=0.5, n_terms=60))
    series.load_state_dict(exact.state_dict())
    assert count_parameters(exact) == count_parameters(Transformer(config))
    tokens = torch.randint(0, 20, (3, 10))
    assert exact(tokens).shape == (3, 10, 5)
    torch.testing.assert_close(series(tokens), exact(tokens), atol=1e-5, rtol=1e-5)
    assert isinstance(exact.blocks[0].attn, FKAttention) and not exact.blocks[0].attn.config.causal


# --- bad input ------------------------------------------------------------------------------
def test_bad_shapes_and_values():
    A, V = softmax_matrix(5, 5), values(5, 2)
    with pytest.raises(ValueError, match="square"):
        resolvent(A[:, :4], V, 0.5)
    with pytest.raises(ValueError, match="V must have shape"):
        path_series(A, V[:4], 0.5, 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        resolvent(softmax_matrix(2, 5, 5), values(3, 5, 2), 0.5)
    with pytest.raises(ValueError, match="NaN"):
        resolvent(A.masked_fill(A > 0.5, float("nan")), V, 0.5)
    with pytest.raises(ValueError, match="NaN"):
        path_series(A, V.masked_fill(V > 0, float("nan")), 0.5, 2)
    with pytest.raises(ValueError, match="hops"):
        path_series(A, V, 0.5, -1)
    with pytest.raises(ValueError, match="beta"):
        resolvent(A, V, 1.0)
    q = values(1, 5, 4)
    with pytest.raises(ValueError, match="same shape"):
        fk_attention(q, q[..., :3], q)
    with pytest.raises(ValueError, match="bool"):
        fk_attention(q, q, q, mask=torch.ones(5, 5))
    with pytest.raises(ValueError, match="mask must end"):
        fk_attention(q, q, q, mask=torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="n_terms"):
        FKAttention(16, 2, n_terms=-1)
    with pytest.raises(ValueError, match="divisible"):
        FKAttention(10, 4)
    with pytest.raises(ValueError, match=r"\(B, T, C\)"):
        FKAttention(8, 2)(torch.randn(4, 8))
    with pytest.raises(ValueError, match="NaN"):
        FKAttention(8, 2)(torch.full((1, 3, 8), float("nan")))


# --- the pointer-chasing task ---------------------------------------------------------------
from spark_edu.tasks.pointer_chasing import PointerChasingConfig, decode, random_successors, sample  # noqa: E402


def test_successors_form_one_cycle_through_all_nodes():
    succ = random_successors(50, 7, torch.Generator().manual_seed(0))
    for row in succ.tolist():
        node, seen = 0, []
        for _ in range(7):
            seen.append(node)
            node = row[node]
        assert node == 0 and sorted(seen) == list(range(7))  # back after exactly N hops, visiting all


@pytest.mark.parametrize("hops", [1, 2, 5])
def test_targets_follow_the_listed_arrows(hops):
    config = PointerChasingConfig(n_nodes=6, hops=hops)
    tokens, targets = sample(40, config, torch.Generator().manual_seed(hops))
    assert tokens.shape == (40, config.seq_len) and tokens.dtype == torch.int64
    assert int(tokens.min()) >= 0 and int(tokens.max()) < config.vocab_size
    for row, target in zip(tokens, targets.tolist()):
        arrows, node = decode(row, 6)
        table = dict(arrows)
        assert sorted(table) == list(range(6))  # every node leaves exactly once
        for _ in range(hops):
            node = table[node]
        assert node == target
    again, _ = sample(40, config, torch.Generator().manual_seed(hops))
    assert torch.equal(tokens, again)


def test_task_bad_config():
    with pytest.raises(ValueError, match="hops must be < n_nodes"):
        PointerChasingConfig(n_nodes=4, hops=4)
    with pytest.raises(ValueError, match="n_nodes"):
        PointerChasingConfig(n_nodes=1)
    with pytest.raises(ValueError, match="hops"):
        PointerChasingConfig(hops=0)


# --- the experiments' statistics and claims -------------------------------------------------
from spark_edu.chapters.fk_attention import experiments  # noqa: E402
from spark_edu.chapters.fk_attention.commands import COMMANDS  # noqa: E402
from spark_edu.chapters.fk_attention.experiments import (  # noqa: E402
    KINDS,
    PrototypeSetting,
    pointer_model,
    prototype_setting,
)
from spark_edu.chapters.fk_attention.figures import chain_resolvent, render  # noqa: E402
from spark_edu.chapters.fk_attention.sweep import format_summary, load_records, save_records, summarize  # noqa: E402


@pytest.mark.parametrize("kind", KINDS)
def test_prototype_benchmark_is_solved_by_the_length_alone(kind):
    """Trained at length 16, both models score 1.0 at the even test length 20 and 0.0 at length 21:
    they learned one class, not the content, because the benchmark's label is ``len(x) % 2``."""
    small = PrototypeSetting(d_model=16, steps=10, lr=0.05)
    assert prototype_setting(kind, 0, small) == 1.0
    assert prototype_setting(kind, 0, replace(small, test_len=21)) == 0.0
    with pytest.raises(ValueError, match="kind"):
        prototype_setting("linear", 0, small)


def test_reproduce_covers_every_claim(monkeypatch):
    from spark_edu.claims import CLAIMS, claims_for, compare

    monkeypatch.setattr(experiments, "prototype_setting", lambda kind, seed: 1.0)
    fake = {"standard": [1.0, 1.0, 1.0], "fk": [0.8, 0.9, 0.7]}
    monkeypatch.setattr(
        experiments, "pointer_run", lambda kind, layers, hops, seed, run: {"accuracy": fake[kind][seed]}
    )
    measurements = experiments.reproduce(quick=True)
    assert [m.key for m in measurements] == [c.key for c in claims_for("fk_attention")]
    by_key = {m.key: m for m in measurements}
    assert abs(by_key["spark.fk.improvement"].value - (-0.2)) < 1e-12
    assert by_key["spark.fk.improvement"].low < -0.2 < by_key["spark.fk.improvement"].high
    numbers = [m for m in measurements if not CLAIMS[m.key].is_statement]
    assert all(not m.as_stated and "len(x) % 2" in m.reason for m in numbers)
    table = compare(measurements)
    assert [len(table.numbers().rows), len(table.statements().rows)] == [3, 2]  # the statements: saved data


def test_sweep_summary_and_csv_round_trip(tmp_path):
    records = [
        {"kind": k, "layers": 1, "hops": 2, "seed": s, "accuracy": a, "final_loss": 0.1, "parameters": 10, "steps": 5}
        for k, accs in (("fk", (0.2, 0.3)), ("standard", (0.9, 1.0)))
        for s, a in enumerate(accs)
    ]
    path = save_records(records, tmp_path / "sweep.csv")
    rows = summarize(load_records(path))
    assert [(r["kind"], r["seeds"]) for r in rows] == [("fk", 2), ("standard", 2)]
    assert abs(rows[0]["mean"] - 0.25) < 1e-12 and rows[1]["high"] == 1.0
    text = repr(format_summary(rows, chance=1 / 7)).splitlines()
    assert text[2].split()[:5] == ["2", "1", "fk", "2", "0.250"] and text[-1] == "chance: 0.143"


def test_shipped_sweep_loads_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records = load_records()
    assert len(records) == 36 and {r["kind"] for r in records} == set(KINDS)
    assert {(r["hops"], r["layers"]) for r in records} == {(k, n) for k in (1, 2, 3) for n in (1, 2)}


def test_command_options_and_bad_hops(tmp_path):
    import argparse

    from spark_edu import results

    ((words, command),) = COMMANDS.items()
    assert words == ("run", "fk_attention")
    parser = argparse.ArgumentParser()
    command.configure(parser)
    assert all(action.help for action in parser._actions)
    args = parser.parse_args([])
    assert args.out == results.data_dir("fk_attention") and args.steps == 1000 and args.hops == [1, 2, 3]
    with pytest.raises(ValueError, match="hops must be < n_nodes"):
        command.run(parser.parse_args(["--hops", "1", "8", "--out", str(tmp_path)]))
    assert not (tmp_path / "sweep.csv").exists()  # checked before anything is written


def test_pointer_models_have_matched_parameters():
    for layers in (1, 2):
        counts = {kind: count_parameters(pointer_model(kind, layers, hops=2)) for kind in KINDS}
        assert counts["standard"] == counts["fk"]


def test_chain_resolvent_is_geometric_along_the_chain():
    R = chain_resolvent(0.5, n_nodes=6, normalize=False)
    assert abs(float(R[0, 3]) - 0.5**3) < 1e-12 and float(R[3, 0]) == 0.0
    torch.testing.assert_close(chain_resolvent(0.5, 6).sum(-1), torch.ones(6, dtype=torch.float64))


def test_render_draws_the_widget_figure():
    import matplotlib.pyplot as plt

    figure = render(beta=0.6, n_terms=2, n_nodes=5)
    assert len(figure.axes) == 4  # series, exact (with its colour bar), node 0's row
    plt.close(figure)


def test_cost_table_from_the_shipped_run():
    from spark_edu.chapters.fk_attention.analysis import REFERENCE, cost_paths, format_cost, load_cost

    rows = load_cost()["rows"]
    table = format_cost(rows)
    assert len(table.rows) == len(rows) * len(cost_paths(rows[0])) and "paired rounds" in table.caption
    reference = [row for row in table.rows if row[1] == REFERENCE]
    assert all(row[3] == (1.0, 1.0, 1.0) for row in reference)
    assert "1.00 [1.00, 1.00]" in repr(table)
