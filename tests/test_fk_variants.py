"""FK attention's variants and the multi-hop study: the no-self resolvent against a dense
inverse, the learned β staying inside |β| < 1 through training, the reachability task's labels
against a brute-force path count, and the steps-to-accuracy study end to end on tiny budgets."""

import itertools
import json
import math

import pytest
import torch

from spark_edu.attention import attention
from spark_edu.chapters.fk_attention import study
from spark_edu.chapters.fk_attention.learned_beta import LearnedBetaFKAttention, bounded_beta, learned_beta_factory
from spark_edu.chapters.fk_attention.steps import (
    VARIANTS,
    StepsSetting,
    _hash,
    best_lr,
    learned_betas,
    steps_run,
    variant_model,
)
from spark_edu.fk_attention import FKAttention, fk_attention, fk_attention_factory
from spark_edu.tasks.reachability import ReachabilityConfig, adjacency, decode, in_degree_rule, sample, walk_counts
from spark_edu.train import TrainConfig, train
from spark_edu.transformer import count_parameters


def qkv(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(3))


# --- the no-self variant A (I − βA)⁻¹ V -------------------------------------------------------
@pytest.mark.parametrize("beta", [-0.6, 0.0, 0.5, 0.9])
@pytest.mark.parametrize("normalize", [False, True])
def test_no_self_matches_dense_inverse(beta, normalize):
    q, k, v = qkv(2, 7, 4)
    out, A = fk_attention(q, k, v, beta, normalize=normalize, self_term=False)
    expected = A @ torch.linalg.inv(torch.eye(7, dtype=A.dtype) - beta * A) @ v  # independent reference
    torch.testing.assert_close(out, (1 - beta if normalize else 1) * expected, atol=1e-10, rtol=1e-10)


def test_no_self_is_standard_attention_at_beta_zero_and_the_shifted_power_sum():
    q, k, v = qkv(6, 5)
    out, A = fk_attention(q, k, v, 0.0, self_term=False)
    torch.testing.assert_close(out, attention(q, k, v)[0])
    beta, K = 0.4, 5
    series, _ = fk_attention(q, k, v, beta, n_terms=K, normalize=False, self_term=False)
    explicit = sum(beta ** (j - 1) * torch.linalg.matrix_power(A, j) @ v for j in range(1, K + 2))
    torch.testing.assert_close(series, explicit, atol=1e-12, rtol=1e-12)
    ones = torch.ones(6, 1, dtype=A.dtype)  # normalised rows sum to 1, as with the self term
    torch.testing.assert_close(fk_attention(q, k, ones, beta, self_term=False)[0], ones)


def test_no_self_module_option_keeps_defaults():
    default = FKAttention(16, 2)
    assert default.config.self_term and "self_term" not in repr(default)
    variant = FKAttention(16, 2, 0.5, causal=False, self_term=False)
    assert "self_term=False" in repr(variant) and count_parameters(variant) == count_parameters(default)
    variant.load_state_dict(default.state_dict())
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        q = default.q_proj(x).view(2, 5, 2, 8).transpose(1, 2)
        k = default.k_proj(x).view(2, 5, 2, 8).transpose(1, 2)
        v = default.v_proj(x).view(2, 5, 2, 8).transpose(1, 2)
        y, _ = fk_attention(q, k, v, 0.5, self_term=False)
        expected = default.out_proj(y.transpose(1, 2).reshape(2, 5, 16))
        torch.testing.assert_close(variant(x), expected)
    assert fk_attention_factory(0.5, self_term=False).__name__.endswith("_noself")


# --- the learned β --------------------------------------------------------------------------
def test_bounded_beta_never_reaches_one():
    theta = torch.tensor([-1e6, -30.0, -1.0, 0.0, 1.0, 30.0, 1e6])
    for dtype in (torch.float32, torch.float64):
        beta = bounded_beta(theta.to(dtype), 0.95)
        assert float(beta.abs().max()) <= 0.95 < 1
    torch.testing.assert_close(bounded_beta(torch.tensor(math.atanh(0.5 / 0.9)), 0.9), torch.tensor(0.5))


def test_learned_beta_starts_at_beta_and_matches_the_fixed_module():
    fixed = FKAttention(16, 4, 0.6, causal=False)
    learned = LearnedBetaFKAttention(16, 4, 0.6, beta_max=0.95, causal=False)
    learned.load_state_dict(fixed.state_dict() | {"theta": learned.theta.detach()})
    torch.testing.assert_close(learned.betas(), torch.full((4,), 0.6))
    x = torch.randn(3, 7, 16)
    torch.testing.assert_close(learned(x), fixed(x), atol=1e-5, rtol=1e-5)
    assert count_parameters(learned) == count_parameters(fixed) + 4  # one θ per head


@pytest.mark.parametrize("self_term", [True, False])
def test_learned_beta_stays_inside_its_convergence_region_through_training(self_term):
    """A loss that rewards β → ±∞ at a huge learning rate: θ saturates, |β| stays ≤ β_max < 1, and
    every step's output still solves its linear system (I − β_h A) Y = (1 − β_h) V per head."""
    torch.manual_seed(0)
    layer = LearnedBetaFKAttention(8, 2, 0.3, beta_max=0.9, causal=True, self_term=self_term)
    seen, thetas = [], []

    def loss_fn(m, x):
        betas = m.betas()
        return 1e-3 * m(x).pow(2).mean() - 10 * (betas[0] - betas[1])  # head 0 pushed to +1, head 1 to -1

    def monitor(step):
        seen.append(step.model.betas().detach().clone())
        thetas.append(step.model.theta.detach().clone())

    train(layer, lambda g: torch.randn(4, 6, 8, generator=g), loss_fn, TrainConfig(steps=60, lr=2.0), on_step=monitor)
    betas = torch.stack(seen)  # (steps, H)
    assert float(betas.abs().max()) <= 0.9 < 1  # inside the region at every step
    assert float(betas[-1, 0]) > 0.89 and float(betas[-1, 1]) < -0.89  # pushed to the edge, not stuck
    assert float(torch.stack(thetas).abs().max()) > 3  # θ itself left any bounded range
    x = torch.randn(2, 6, 8)
    assert torch.isfinite(layer(x)).all()
    with pytest.raises(ValueError, match="beta_max"):
        LearnedBetaFKAttention(8, 2, 0.3, beta_max=1.0)
    with pytest.raises(ValueError, match="beta_max"):
        LearnedBetaFKAttention(8, 2, 0.95, beta_max=0.9)


def test_learned_beta_inside_the_study_model():
    model = variant_model("fk learned β", "pointer", 1, 2)
    assert learned_betas(model).shape == (2, 4)
    assert learned_beta_factory(0.5).__name__.startswith("fk_learned")


# --- the reachability task against brute force ------------------------------------------------
def brute_force_walks(edges, s, t, length):
    """Walks s → … → t of exactly ``length`` edges, by enumerating every node sequence."""
    E, nodes = set(edges), {u for e in edges for u in e} | {s, t}
    count = 0
    for middle in itertools.product(sorted(nodes), repeat=length - 1):
        path = (s, *middle, t)
        count += all((a, b) in E for a, b in zip(path, path[1:]))
    return count


@pytest.mark.parametrize("matched", [False, True])
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_reachability_labels_match_a_brute_force_path_count(hops, matched):
    N = 6 if matched else 5  # 5 nodes leave a 3-hop positive no unreachable twin with an incoming edge
    config = ReachabilityConfig(n_nodes=N, n_edges=N, hops=hops, matched=matched)
    tokens, labels = sample(40, config, torch.Generator().manual_seed(hops))
    counts = walk_counts(adjacency(tokens, N), max_length=N - 1)  # (B, N - 1, N, N)
    for row, label, count in zip(tokens, labels.tolist(), counts):
        edges, s, t = decode(row, N)
        walks = [brute_force_walks(edges, s, t, j) for j in range(1, N)]  # up to N - 1 edges: every simple path
        assert walks == count[:, s, t].tolist()
        if label:  # a walk of exactly `hops` edges and none shorter
            assert walks[hops - 1] > 0 and not any(walks[: hops - 1])
        else:  # no walk of any length
            assert not any(walks)
    assert 0.3 < labels.float().mean() < 0.7 and len(set(tokens.tolist()[0])) == N + 1  # distinct edges, one query


def test_reachability_docstring_example_and_encoding():
    config = ReachabilityConfig(n_nodes=4, n_edges=3, hops=2)
    assert (config.vocab_size, config.seq_len) == (32, 4)
    tokens = torch.tensor([[9, 12, 2, 17], [9, 12, 2, 19]])
    assert decode(tokens[0], 4) == ([(2, 1), (3, 0), (0, 2)], 0, 1)
    counts = walk_counts(adjacency(tokens, 4), 3)
    assert counts[0, :, 0, 1].tolist() == [0, 1, 0] and counts[1, :, 0, 3].tolist() == [0, 0, 0]


def test_in_degree_shortcut_against_the_edge_list():
    tokens = torch.tensor([[9, 12, 2, 17], [9, 12, 2, 19]])  # the docstring's example: t = 1 has 2→1, t = 3 none
    assert in_degree_rule(tokens, 4).tolist() == [1, 0]
    tokens, labels = sample(200, ReachabilityConfig(n_nodes=6, n_edges=6, hops=2), torch.Generator().manual_seed(5))
    by_hand = [int(any(dst == decode(row, 6)[2] for _, dst in decode(row, 6)[0])) for row in tokens]
    assert in_degree_rule(tokens, 6).tolist() == by_hand
    assert bool((in_degree_rule(tokens, 6)[labels == 1] == 1).all())  # every positive has an incoming edge


def test_matched_negatives_share_a_positive_degrees_and_defeat_the_shortcut():
    """Each matched example's graph holds a target of the other label with the same in- and
    out-degree (found by brute force over its edge list), so the in-degree rule is at chance."""
    config = ReachabilityConfig(n_nodes=8, n_edges=10, hops=3, matched=True)
    tokens, labels = sample(300, config, torch.Generator().manual_seed(7))

    def degrees(edges, node):
        return sum(d == node for _, d in edges), sum(s == node for s, _ in edges)

    def distance(edges, s, t):  # breadth-first search over the edge list
        seen, frontier, j = {s}, {s}, 0
        while frontier and t not in frontier:
            frontier, j = {d for a, d in edges if a in frontier} - seen, j + 1
            seen |= frontier
        return j if t in frontier else None

    for row, label in zip(tokens, labels.tolist()):
        edges, s, t = decode(row, 8)
        want = None if label else 3  # the twin: unreachable for a positive, at distance 3 for a negative
        twins = [u for u in range(8) if u != t and distance(edges, s, u) == want]
        assert any(degrees(edges, u) == degrees(edges, t) for u in twins)
        assert distance(edges, s, t) == (3 if label else None)
    accuracy = (in_degree_rule(tokens, 8) == labels).float().mean().item()
    free = sample(300, ReachabilityConfig(n_nodes=8, n_edges=10, hops=3), torch.Generator().manual_seed(7))
    assert abs(accuracy - 0.5) < 0.1 < (in_degree_rule(free[0], 8) == free[1]).float().mean().item() - 0.5


def test_reachability_bad_config():
    for bad in (dict(n_nodes=2), dict(hops=7), dict(n_edges=1, hops=2), dict(n_edges=100)):
        with pytest.raises(ValueError):
            ReachabilityConfig(**bad)


def test_a_matched_task_with_no_possible_example_is_refused_not_looped():
    """5 nodes, 5 edges, 3 hops: the 3-edge path uses 4 nodes, so the one node left is unreachable
    with in-degree 0 while the positive has in-degree ≥ 1 — no degree-matched pair exists."""
    config = ReachabilityConfig(n_nodes=5, n_edges=5, hops=3, matched=True)
    with pytest.raises(ValueError, match="admits"):
        sample(4, config, torch.Generator().manual_seed(0))


# --- the study ------------------------------------------------------------------------------
def test_hash_separates_sequences_and_held_out_data_is_disjoint():
    tokens, _ = sample(2000, ReachabilityConfig(), torch.Generator().manual_seed(0))
    assert len(set(_hash(tokens).tolist())) == len({tuple(r) for r in tokens.tolist()})
    record = steps_run("standard", "reach", 2, 1, 3e-3, 0, StepsSetting(max_steps=20, eval_every=10, eval_size=200))
    assert record["overlap"] == 0 and [s for s, _ in record["curve"]] == [10, 20]


def test_steps_run_stops_at_the_target():
    tiny = StepsSetting(max_steps=30, eval_every=10, eval_size=50, target=0.01)
    record = steps_run("fk learned β", "pointer", 1, 1, 3e-3, 0, tiny)
    assert record["steps_to_target"] == 10 and len(record["curve"]) == 1
    assert record["max_abs_beta"] < 0.95 and len(record["final_betas"][0]) == 4


def test_best_lr_prefers_fewer_steps_then_accuracy():
    runs = [
        {"lr": 1e-3, "steps_to_target": None, "final_accuracy": 0.8},
        {"lr": 3e-3, "steps_to_target": 500, "final_accuracy": 0.9},
        {"lr": 1e-2, "steps_to_target": None, "final_accuracy": 0.85},
    ]
    assert best_lr(runs, 1000) == 3e-3
    assert best_lr([runs[0], runs[2]], 1000) == 1e-2
    with pytest.raises(ValueError):
        best_lr([], 10)


def test_run_cell_writes_reloads_and_summarises(tmp_path):
    path = study.run_cell(
        "reach",
        2,
        1,
        tmp_path,
        variants=("standard", "fk β=0.5"),
        lrs=(1e-3, 3e-3),
        seeds=2,
        max_steps=20,
        eval_size=50,
    )
    cell = study.load_cell(path)
    assert len(cell["runs"]) == 2 * (2 + 1) and set(cell["best_lr"]) == {"standard", "fk β=0.5"}
    assert "wall_s" in cell and len(cell["load_average"]) == 3 and cell["threads"] == 1
    rows = study.summarize(cell)
    assert [r["seeds"] for r in rows] == [2, 2] and all(r["steps_mean"] == 20 for r in rows)  # censored
    assert "censored" in repr(study.format_summary(cell))
    assert study.load_cells(tmp_path)[0]["cell"] == {"task": "reach", "hops": 2, "layers": 1}
    json.loads(path.read_text())


def test_every_variant_builds_with_matched_projections():
    sizes = {name: count_parameters(variant_model(name, "reach", 2, 1)) for name in VARIANTS}
    assert {sizes[n] - sizes["standard"] for n in VARIANTS} == {0, 4}  # + one θ per head when learned


def test_study_command_checks_before_writing(tmp_path):
    from spark_edu.__main__ import main

    for argv in (["--cell", "graph", "2", "1"], ["--study", "--variants", "fk β=2"], ["--cell", "reach", "9", "1"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["run", "fk_attention", *argv, "--out", str(tmp_path)])
        assert exit_info.value.code == 2
    assert not list(tmp_path.iterdir())


def test_merge_takes_each_variant_from_the_file_that_finished_it():
    def run(variant, lr, seed):
        return {
            "variant": variant,
            "lr": lr,
            "seed": seed,
            "steps_to_target": 100,
            "final_accuracy": 0.9,
            "curve": [(100, 0.9)],
            "max_abs_beta": None,
            "overlap": 0,
        }

    base = {"cell": {"task": "pointer", "hops": 1, "layers": 1}, "setting": {"max_steps": 200}, "date": "d"}
    first = base | {
        "runs": [run("a", 1, 0), run("b", 1, 0)],
        "best_lr": {"a": 1},
        "wall_s": 5,
        "command": "x",
        "load_average": [1, 1, 1],
    }
    second = base | {
        "runs": [run("b", 2, 0), run("b", 2, 1)],
        "best_lr": {"b": 2},
        "wall_s": 7,
        "command": "y",
        "load_average": [2, 2, 2],
    }
    cell = study.merge([first, second])
    assert cell["best_lr"] == {"a": 1, "b": 2} and cell["wall_s"] == 12 and len(cell["parts"]) == 2
    assert [(r["variant"], r["lr"]) for r in cell["runs"]] == [("a", 1), ("b", 2), ("b", 2)]
    with pytest.raises(ValueError, match="one cell"):
        study.merge([first, base | {"cell": {"task": "reach", "hops": 2, "layers": 1}}])


def test_a_cell_stopped_right_after_tuning_still_has_its_choice(tmp_path):
    path = study.run_cell(
        "pointer", 1, 1, tmp_path, variants=("standard",), lrs=(3e-3,), seeds=1, max_steps=10, eval_size=20
    )
    saved = json.loads(path.read_text())
    assert saved["best_lr"] == {"standard": 3e-3}
    saved["best_lr"] = {}  # as an interrupted study left it
    path.write_text(json.dumps(saved))
    assert study.load_cell(path)["best_lr"] == {"standard": 3e-3}


def test_resume_trains_only_the_missing_runs(tmp_path, monkeypatch):
    kw = dict(variants=("standard",), seeds=2, eval_size=20)
    path = study.run_cell("pointer", 1, 1, tmp_path, lrs=(3e-3,), max_steps=10, **kw)
    first = json.loads(path.read_text())
    rates = []
    real = study.steps_run
    monkeypatch.setattr(study, "steps_run", lambda *a: rates.append(a[4]) or real(*a))
    study.run_cell("pointer", 1, 1, tmp_path, lrs=(3e-3, 1e-2), max_steps=10, resume=True, **kw)
    cell = study.load_cell(path)
    assert rates[0] == 1e-2 and set(rates) == {1e-2}  # only the new rate trains; the earlier runs are reused
    assert len(cell["runs"]) == len(first["runs"]) + len(rates) and cell["lrs"] == [3e-3, 1e-2]
    assert cell["wall_s"] >= first["wall_s"]
    with pytest.raises(ValueError, match="other settings"):
        study.run_cell("pointer", 1, 1, tmp_path, lrs=(3e-3,), max_steps=20, resume=True, **kw)
