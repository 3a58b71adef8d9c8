"""The differentiable stack, the verifier head and the Dyck generators."""

import pytest
import torch

from spark_edu.tasks import dyck
from spark_edu.tasks.dyck import DyckConfig
from spark_edu.transformer import count_parameters
from spark_edu.verifier import POP, PUSH, VerifierHead, run_stack, stack_depth, stack_step, verifier_loss


def ordinary_stack(ops, values, size):
    """A Python-list stack (top first) with the same overflow/underflow rules, for reference."""
    stack, history, tops = [], [], []
    for op, v in zip(ops, values):
        tops.append(stack[0] if stack else None)
        if op == PUSH:
            stack = [v] + stack[: size - 1]
        elif op == POP:
            stack = stack[1:]
        history.append(list(stack))
    return history, tops


@pytest.mark.parametrize("size", [1, 3, 16])
def test_hard_controls_reproduce_an_ordinary_stack(size):
    g = torch.Generator().manual_seed(size)
    T, M = 40, 4
    ops = torch.randint(0, 3, (T,), generator=g)
    values = torch.randn(1, T, M, generator=g)
    controls = torch.nn.functional.one_hot(ops, 3).float().unsqueeze(0)  # (1, T, 3)
    stacks, tops = run_stack(controls, values, size)
    history, ref_tops = ordinary_stack(ops.tolist(), list(values[0]), size)
    for t in range(T):
        ref = history[t]
        assert stack_depth(stacks[0, t]).item() == len(ref)  # occupancy counts the elements exactly
        for i in range(size):
            if i < len(ref):
                assert torch.equal(stacks[0, t, i, :M], ref[i]) and stacks[0, t, i, M] == 1
            else:
                assert torch.count_nonzero(stacks[0, t, i]) == 0  # empty slots are exactly zero
        top = ref_tops[t]
        assert torch.equal(tops[0, t], torch.zeros(M + 1) if top is None else torch.cat([top, torch.ones(1)]))


def test_soft_controls_interpolate_the_hard_outcomes():
    g = torch.Generator().manual_seed(0)
    stack, element = torch.randn(5, 6, 3, generator=g), torch.randn(5, 3, generator=g)
    a = torch.rand(5, 3, generator=g)
    a = a / a.sum(dim=1, keepdim=True)
    hard = [stack_step(stack, torch.nn.functional.one_hot(torch.full((5,), k), 3).float(), element) for k in range(3)]
    mixed = sum(a[:, k, None, None] * hard[k] for k in range(3))
    torch.testing.assert_close(stack_step(stack, a, element), mixed)
    # half push / half pop from an empty stack: depth 0.5 after the first step
    stacks, _ = run_stack(torch.tensor([[[0.5, 0.5, 0.0]]]), torch.ones(1, 1, 2), 4)
    assert stack_depth(stacks)[0, 0].item() == pytest.approx(0.5)


def test_stack_gradcheck_float64():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 3, dtype=torch.float64, generator=g, requires_grad=True)
    values = torch.randn(2, 5, 2, dtype=torch.float64, generator=g, requires_grad=True)

    def f(logits, values):
        stacks, tops = run_stack(logits.softmax(-1), values, 3)
        return stacks, tops

    assert torch.autograd.gradcheck(f, (logits, values))


def test_head_gradcheck_float64_and_padding_is_a_noop():
    head = VerifierHead(8, stack_size=4, element_dim=2).double()
    g = torch.Generator().manual_seed(1)
    h = torch.randn(2, 4, 8, dtype=torch.float64, generator=g, requires_grad=True)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    assert torch.autograd.gradcheck(lambda x: head(x, mask).valid_logits, (h,))
    out = head(h, mask)
    torch.testing.assert_close(out.stacks[1, 3], out.stacks[1, 1])  # padded steps leave the stack alone
    short = head(h[1:, :2])  # the same sequence without padding
    torch.testing.assert_close(out.valid_logits[1:], short.valid_logits)


def test_head_shapes_and_parameter_count():
    head = VerifierHead(128, stack_size=16)
    assert count_parameters(head) == 18511
    out = head(torch.randn(3, 7, 128))
    assert out.controls.shape == (3, 7, 3) and out.stacks.shape == (3, 7, 16, 9)
    assert out.depth.shape == out.step_logits.shape == (3, 7) and out.valid_logits.shape == (3,)
    torch.testing.assert_close(out.controls.sum(-1), torch.ones(3, 7))
    batch = dyck.encode(["()", "(("])
    loss = verifier_loss(
        out.depth[:2, :2],
        out.step_logits[:2, :2],
        out.valid_logits[:2],
        batch.depth,
        batch.prefix_ok,
        batch.valid,
        batch.mask,
    )
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())  # every parameter is trained


@pytest.mark.parametrize("n_types", [1, 2])
def test_generator_validity_balance_and_depth(n_types):
    config = DyckConfig(n_types=n_types, min_length=4, max_length=20, min_depth=2, max_depth=5)
    strings = dyck.sample_strings(200, config, torch.Generator().manual_seed(0))
    valid = [dyck.is_valid(s) for s in strings]
    assert sum(valid) == 100 and valid[0::2] == [True] * 100  # valid by construction, balanced
    assert set("".join(strings)) <= set(dyck.ALPHABET[: 2 * n_types])
    for good, bad in zip(strings[0::2], strings[1::2]):
        depth, _ = dyck.trace(good)
        assert 2 <= max(depth) <= 5 and 4 <= len(good) <= 20 and len(good) % 2 == 0
        assert len(bad) % 2 == 0
    batch = dyck.encode(strings)
    assert batch.valid.tolist() == valid and int(batch.valid.sum()) == 100
    # labels agree with a counter on Dyck-1 (independent of the stack in `trace`)
    if n_types == 1:
        s = strings[0]
        running = torch.tensor([1 if c == "(" else -1 for c in s]).cumsum(0)
        assert torch.equal(batch.depth[0, : len(s)], running)


def test_worked_example_from_the_docstring():
    batch = dyck.encode(["([])]", "()"])
    assert batch.tokens[0].tolist() == [1, 3, 4, 2, 4]
    assert batch.depth[0].tolist() == [1, 2, 1, 0, 0]
    assert batch.prefix_ok[0].tolist() == [True, True, True, True, False]
    assert batch.valid.tolist() == [False, True] and batch.mask[1].tolist() == [True, True, False, False, False]
    assert not dyck.is_valid("(]") and not dyck.is_valid(")(") and dyck.is_valid("[()]()")
    # after an error the stack keeps working: closes still pop
    assert dyck.trace(")(())")[0] == [0, 1, 2, 1, 0] and dyck.trace("(]())")[0] == [1, 0, 1, 0, 0]


def test_depth_labels_equal_a_hard_stack_on_invalid_strings():
    """The labels are what an ordinary stack does, checked against run_stack with hard controls."""
    strings = dyck.sample_strings(40, DyckConfig(n_types=2, max_length=16), torch.Generator().manual_seed(3))
    for s in strings[1::2]:
        ops = torch.tensor([PUSH if c in "([" else POP for c in s])
        stacks, _ = run_stack(torch.nn.functional.one_hot(ops, 3).float()[None], torch.zeros(1, len(s), 1), 16)
        assert stack_depth(stacks)[0].tolist() == [float(d) for d in dyck.trace(s)[0]]


def test_generator_is_deterministic():
    config = DyckConfig(n_types=2, max_length=12)
    a = dyck.sample_strings(20, config, torch.Generator().manual_seed(7))
    b = dyck.sample_strings(20, config, torch.Generator().manual_seed(7))
    c = dyck.sample_strings(20, config, torch.Generator().manual_seed(8))
    assert a == b and a != c


def test_deep_strings_reach_their_depth():
    config = DyckConfig(min_length=24, max_length=24, min_depth=12, max_depth=12)
    s = dyck.sample_valid(config, torch.Generator().manual_seed(0))
    assert s == "(" * 12 + ")" * 12


def test_bad_input():
    with pytest.raises(ValueError, match="unknown symbols"):
        dyck.encode(["(a)"])
    with pytest.raises(ValueError, match="non-empty"):
        dyck.encode(["()", ""])
    with pytest.raises(ValueError, match="at least one string"):
        dyck.encode([])
    with pytest.raises(ValueError, match="stack_size"):
        run_stack(torch.ones(1, 2, 3) / 3, torch.zeros(1, 2, 4), stack_size=0)
    with pytest.raises(ValueError, match="stack_size"):
        VerifierHead(16, stack_size=0)
    with pytest.raises(ValueError, match="same"):
        run_stack(torch.ones(1, 3, 3) / 3, torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="at least one step"):
        run_stack(torch.ones(1, 0, 3), torch.zeros(1, 0, 4))
    with pytest.raises(ValueError, match="at least one step"):
        VerifierHead(16)(torch.zeros(1, 0, 16))
    with pytest.raises(ValueError, match="mask"):
        VerifierHead(16)(torch.zeros(2, 3, 16), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="non-empty"):
        VerifierHead(16)(torch.zeros(1, 3, 16), torch.zeros(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="d_model"):
        VerifierHead(16)(torch.zeros(1, 3, 8))
    with pytest.raises(ValueError, match="NaN"):
        run_stack(torch.full((1, 2, 3), float("nan")), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="min_depth"):
        DyckConfig(max_length=4, min_depth=3, max_depth=3)
    with pytest.raises(ValueError, match="n_types"):
        DyckConfig(n_types=3)
    with pytest.raises(ValueError, match="even"):
        dyck.sample_strings(3, DyckConfig(), torch.Generator())


def test_hard_mode_runs_a_discrete_stack():
    head = VerifierHead(8, stack_size=4, element_dim=2)
    out = head(torch.randn(3, 6, 8), hard=True)
    assert set(out.controls.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(out.stack_depth, out.stack_depth.round())  # a whole number of elements


def test_experiment_sweep_tunes_then_trains_every_seed():
    from dataclasses import replace

    from spark_edu.chapters.verifier.experiments import measurements, summary
    from spark_edu.chapters.verifier.models import MODELS, QUICK
    from spark_edu.chapters.verifier.sweep import run_sweep
    from spark_edu.claims import claims_for

    cfg = replace(
        QUICK,
        steps=3,
        n_test=20,
        n_val=20,
        n_probe=10,
        probe_lengths=(24,),
        probe_depths=(6,),
        seeds=(0, 1),
        models=("transformer", "verifier_seq"),
        eval_every=2,
    )
    threads = torch.get_num_threads()
    results = run_sweep(cfg)
    assert torch.get_num_threads() == threads  # each task trains on one thread, then restores the count
    runs = results["runs"]
    assert len(runs) == 2 * len(cfg.lrs) + 2  # every rate on the tuning seed, the chosen one on seed 1
    assert {r["lr"] for r in runs if r["seed"] == 1 and r["model"] == "transformer"} == {
        results["chosen_lr"]["2"]["transformer"]
    }
    rows = summary(results)
    assert {(r["model"], r["task"]) for r in rows} == {
        ("transformer", "validation"),
        ("transformer", "depth"),
        ("verifier_seq", "validation"),
        ("verifier_seq", "depth"),
    } and all(r["seeds"] == 2 for r in rows)
    seq = next(r for r in runs if r["model"] == "verifier_seq")
    assert seq["hard"]["test"].keys() == {"validation", "depth"} and [p[0] for p in seq["curve"]] == [2, 3]
    assert set(MODELS) >= set(cfg.models) and results["overlap"]["2/0"]["test_in_train"] == 0
    resumed = run_sweep(replace(cfg, lrs=cfg.lrs + (3e-2,)), previous=results)  # one more rate: 2 new runs
    assert resumed["provenance"]["cpu_s"] > results["provenance"]["cpu_s"]
    fresh = {(r["model"], r["lr"], r["seed"]): r["test"] for r in resumed["runs"]}
    assert all(fresh[(r["model"], r["lr"], 0)] == r["test"] for r in runs if r["seed"] == 0)  # reused as they were
    full = replace(cfg, models=("transformer", "verifier"))
    keys = [m.key for m in measurements(run_sweep(full, lrs={"2": {"transformer": 1e-3, "verifier": 1e-3}}))]
    assert keys == [c.key for c in claims_for("verifier") if not c.is_statement]  # the numbers; statements apart


class _Oracle(torch.nn.Module):
    """Predicts the true labels except on chosen strings; garbage on padding (which must not count)."""

    def __init__(self, wrong_valid=(), wrong_depth=()):
        super().__init__()
        self.wrong_valid, self.wrong_depth = set(wrong_valid), set(wrong_depth)

    def forward(self, tokens, mask):
        strings = ["".join(dyck.ALPHABET[t - 1] for t in row[m].tolist()) for row, m in zip(tokens, mask)]
        truth = dyck.encode(strings)
        depth = truth.depth.float() + 0.4 + 5.0 * ~mask  # rounds to the truth inside, far off on padding
        valid = torch.where(truth.valid, 1.0, -1.0)
        for i, s in enumerate(strings):
            if s in self.wrong_depth:
                depth[i, len(s) - 1] += 1.0
            if s in self.wrong_valid:
                valid[i] = -valid[i]
        return depth, torch.zeros_like(depth), valid


def test_evaluate_counts_exactly_over_chunks_and_ignores_padding():
    from spark_edu.chapters.verifier.runs import evaluate

    strings = "() (( ([]) ([)] []() (() )( [[]] (((()))) ([] ()[]() ][ [()] ((( ()()() [(]) [[[]]] )) ([()[]]) (]"
    batch = dyck.encode(strings.split())  # 20 distinct strings of lengths 2 to 8: padded, valid and not
    assert evaluate(_Oracle(), batch, chunk=7) == {"validation": 1.0, "depth": 1.0}
    wrong = _Oracle(wrong_valid=batch.strings[:3], wrong_depth=batch.strings[5:12])
    assert evaluate(wrong, batch, chunk=7) == pytest.approx({"validation": 17 / 20, "depth": 13 / 20}, abs=1e-6)


def test_saved_results_and_weights_load_from_any_folder(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from spark_edu.chapters.verifier.experiments import load_results, overlap_totals, summary
    from spark_edu.chapters.verifier.figures import render
    from spark_edu.chapters.verifier.models import MODELS, ExperimentConfig, load_model
    from spark_edu.chapters.verifier.runs import evaluate

    monkeypatch.chdir(tmp_path)  # the package's data folder, not the working directory
    results = load_results()
    assert results["config"]["steps"] == ExperimentConfig().steps and tuple(results["config"]["models"]) == MODELS
    assert len(summary(results)) == 6 + 5 and overlap_totals(results)["test_in_train"] == 0
    test = dyck.make_dataset(200, DyckConfig(n_types=2, max_length=20, max_depth=4), torch.Generator().manual_seed(0))
    assert evaluate(load_model(language=2), test)["depth"] > 0.95  # the trained weights, not a fresh model
    figure = render(length=8, depth=2)  # the widget works without a model argument
    assert len(figure.axes) == 4
    plt.close(figure)
