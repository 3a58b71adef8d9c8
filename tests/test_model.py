"""The SPaR-K model: assembly, parameter counts, switches, training, determinism, bad input."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from spark_edu.chapters.spark_model.commands import COMMANDS
from spark_edu.chapters.spark_model.experiments import gradients_reach_components
from spark_edu.chapters.spark_model.training import RunConfig, datasets, fk_bounds, next_token_loss, train_run
from spark_edu.fk_attention import FKAttention
from spark_edu.model import (
    COMPONENTS,
    SparkConfig,
    build,
    matched_standard,
    original_breakdown,
    parameter_breakdown,
    parameter_count,
    preset,
)
from spark_edu.spd.router import SPDRouter
from spark_edu.tasks.palindromes import (
    PalindromeConfig,
    PalindromeData,
    make_dataset,
    predictable_mask,
    repeat_last_accuracy,
)
from spark_edu.transformer import MultiHeadSelfAttention, Transformer, count_parameters
from spark_edu.verifier import VerifierHead

TINY = preset("tiny")


def test_original_breakdown_sums_to_the_reported_count():
    rows = original_breakdown()
    per_layer = sum(v for k, v in rows.items() if "per layer" in k)
    assert per_layer == 314_212  # the original's layer, recounted from its shapes
    assert rows["total"] == 643_272


def test_preset_parameter_count_and_breakdown():
    model = build(preset("original"), 0)
    ours, theirs = parameter_breakdown(model), original_breakdown()
    verifier = count_parameters(VerifierHead(128, 16, 8)) + (8 + 3) * 128 + 128  # head + W_r
    assert ours["verifier head (per layer)"] == verifier
    assert ours["total"] == count_parameters(model) == 643_272 + 2 * (verifier - 22_916)
    # every row but the verifier matches the original's shapes exactly
    for key in theirs:
        if key not in ("verifier head (per layer)", "total"):
            assert ours[key] == theirs[key], key
    assert ours["total"] - theirs["total"] == 2 * (
        ours["verifier head (per layer)"] - theirs["verifier head (per layer)"]
    )
    assert model.head.weight is model.tok_emb.weight  # tied: counted once


@pytest.mark.parametrize("components", [c for r in range(4) for c in itertools.combinations(COMPONENTS, r)])
def test_each_component_switches(components):
    config = TINY.with_components(*components)
    model = build(config, 0)
    block = model.blocks[0]
    assert isinstance(block.attn, FKAttention) == ("fk" in components)
    assert isinstance(block.attn, MultiHeadSelfAttention) == ("fk" not in components)
    assert isinstance(block.spd, SPDRouter) == ("spd" in components)
    assert isinstance(block.verifier, VerifierHead) == ("verifier" in components)
    tokens = torch.randint(0, config.vocab_size, (3, 10))
    logits = model(tokens)
    assert logits.shape == (3, 10, config.vocab_size)
    assert bool(model.separation_loss() != 0) == ("spd" in components)


def test_no_components_is_the_standard_transformer():
    config = TINY.with_components()
    ours = build(config, 0)
    torch.manual_seed(0)
    standard = Transformer(config.transformer_config())
    standard.head = torch.nn.Linear(config.d_model, config.vocab_size, bias=False)
    standard.head.weight = standard.tok_emb.weight
    standard.load_state_dict(ours.state_dict())  # same modules, same names
    tokens = torch.randint(0, config.vocab_size, (2, 9))
    torch.testing.assert_close(ours(tokens), standard(tokens))


def test_causal_model_does_not_see_the_future():
    model = build(TINY, 0)
    tokens = torch.randint(0, TINY.vocab_size, (2, 12))
    changed = tokens.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % TINY.vocab_size
    torch.testing.assert_close(model(tokens)[:, :8], model(changed)[:, :8])
    leaky = build(preset("tiny", causal=False), 0)  # the original's setting: no mask
    assert not torch.allclose(leaky(tokens)[:, :8], leaky(changed)[:, :8])


def test_matched_standard_is_within_a_tenth_of_a_percent():
    base = preset("original")
    standard = matched_standard(base)
    assert standard.components == ()
    assert abs(parameter_count(standard) - parameter_count(base)) / parameter_count(base) < 1e-3


def test_a_training_step_reduces_the_loss_on_a_tiny_batch():
    model = build(TINY, 0)
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.randint(0, TINY.vocab_size, (4, 12), generator=g),
        torch.randint(0, TINY.vocab_size, (4, 12), generator=g),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = next_token_loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


def test_gradients_reach_every_component():
    reach = gradients_reach_components(TINY, 0)
    assert set(reach) == set(COMPONENTS)
    # the verifier read-out's sequence logit is unused by next-token training: all else gets gradient
    assert reach["fk"] == 1.0 and reach["spd"] == 1.0 and reach["verifier"] > 0.8


def test_determinism_under_a_seed():
    tokens = torch.randint(0, TINY.vocab_size, (2, 10), generator=torch.Generator().manual_seed(1))
    a, b = build(TINY, 3), build(TINY, 3)
    torch.testing.assert_close(a(tokens), b(tokens), rtol=0, atol=0)
    assert not torch.equal(a(tokens), build(TINY, 4)(tokens))
    d1, d2 = (
        make_dataset(PalindromeConfig(), torch.Generator().manual_seed(5)),
        make_dataset(PalindromeConfig(), torch.Generator().manual_seed(5)),
    )
    assert torch.equal(d1.tokens, d2.tokens)


def test_palindrome_task():
    data = make_dataset(PalindromeConfig(n_sequences=100, length=8), torch.Generator().manual_seed(0))
    assert int(data.is_palindrome.sum()) == 30
    pal = data.tokens[data.is_palindrome]
    assert torch.equal(pal, pal.flip(-1))
    assert int(data.tokens.min()) >= 1 and int(data.tokens.max()) <= 48
    mask = predictable_mask(torch.tensor([True, False]), 8)
    assert mask.tolist() == [[False, False, False, True, True, True, True], [False] * 7]
    # "repeat the last token" is right on the first predictable target of every palindrome
    j = 8 // 2 - 1
    assert torch.equal(pal[:, j + 1], pal[:, j])


def test_repeat_last_rule_scores_the_first_mirrored_target_and_coincidences():
    docstring = PalindromeData(torch.tensor([[7, 3, 9, 9, 3, 7]]), torch.tensor([True]))  # the module's example
    assert repeat_last_accuracy(docstring) == pytest.approx(1 / 3)  # targets 9, 3, 7 after inputs 9, 9, 3
    config = PalindromeConfig(n_sequences=4000)
    data = make_dataset(config, torch.Generator().manual_seed(1))
    first, chance = 2 / config.length, 1 / (config.vocab_size - 2)  # 1 of L/2 targets, coincidences elsewhere
    assert repeat_last_accuracy(data) == pytest.approx(first + (1 - first) * chance, abs=0.004)
    with pytest.raises(ValueError, match="no palindrome"):
        repeat_last_accuracy(PalindromeData(torch.tensor([[1, 2, 3, 4]]), torch.tensor([False])))


def test_fk_bound_holds_on_a_trained_shape_model():
    model = build(TINY, 0)
    b = fk_bounds(model, torch.randint(0, TINY.vocab_size, (2, 10)))
    assert b["q"] == pytest.approx(TINY.beta, abs=1e-5)  # softmax rows sum to 1
    assert b["error"] <= b["bound"] + 1e-6
    assert fk_bounds(build(TINY.with_components("spd"), 0), torch.zeros(1, 4, dtype=torch.long)) is None


def test_bad_input():
    model = build(TINY, 0)
    with pytest.raises(ValueError, match="token ids must lie in"):
        model(torch.tensor([[0, TINY.vocab_size]]))
    with pytest.raises(ValueError, match="token ids must lie in"):
        model(torch.tensor([[-1, 0]]))
    with pytest.raises(ValueError, match="exceeds max_len"):
        model(torch.zeros(1, TINY.max_len + 1, dtype=torch.long))
    with pytest.raises(ValueError, match="components must be"):
        SparkConfig(components=("fk", "moe"))
    with pytest.raises(ValueError, match="components must be"):
        TINY.with_components("FK")
    with pytest.raises(ValueError, match="component must be one of"):
        TINY.uses("attention")
    with pytest.raises(ValueError, match="beta"):
        SparkConfig(beta=1.0)
    with pytest.raises(ValueError, match="preset must be"):
        preset("gpt2")
    with pytest.raises(ValueError, match="length must be even"):
        PalindromeConfig(length=7)
    with pytest.raises(ValueError, match="palindrome_fraction"):
        PalindromeConfig(palindrome_fraction=1.5)


def test_datasets_are_seeded_and_disjoint_draws():
    train, test = datasets(0, RunConfig(n_test=50))
    assert len(train) == 800 and len(test) == 50
    assert abs(float(train.is_palindrome.float().mean()) - 0.3) < 1e-6
    assert F.one_hot(train.tokens, 50).sum() == train.tokens.numel()


def test_train_run_monitors_before_training_every_few_steps_and_at_the_end():
    data = PalindromeConfig(n_sequences=40, length=12, vocab_size=TINY.vocab_size)
    record = train_run(TINY, 0, RunConfig(steps=5, evals=2, n_test=20, data=data))
    assert [p["step"] for p in record["curve"]] == [0, 2, 4, 5]  # every = 5 // 2 = 2, below 5, then the end
    assert [b["step"] for b in record["fk_bounds"]] == [0, 2, 4, 5]
    assert len(record["losses"]) == len(record["grad_norms"]) == 5
    assert record["curve"][-1] == {"step": 5, **record["final"]}


def test_run_command_options_all_have_help():
    import argparse

    assert set(COMMANDS) == {("run", "spark_model"), ("bench", "spark")}
    command = COMMANDS[("run", "spark_model")]
    parser = argparse.ArgumentParser()
    command.configure(parser)
    assert all(action.help for action in parser._actions)
    args = parser.parse_args(["--quick", "--workers", "2", "--no-timings"])
    assert args.quick and args.workers == 2 and args.no_timings and not args.timings_only
    with pytest.raises(SystemExit):
        parser.parse_args(["--no-timings", "--timings-only"])
    with pytest.raises(ValueError, match="--timings-only needs an existing"):
        command.run(parser.parse_args(["--timings-only", "--out", "/nonexistent/spark_model"]))
