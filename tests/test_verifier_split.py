"""The verifier chapter's honest set-up: disjoint train/test strings, sequence-only training,
causal baselines of matched size, the learning-rate choice."""

import binascii
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from spark_edu.chapters.verifier.models import MODELS, ExperimentConfig, build_models, predictions
from spark_edu.chapters.verifier.runs import datasets, overlap
from spark_edu.chapters.verifier.sweep import choose_lrs
from spark_edu.tasks import dyck
from spark_edu.tasks.dyck import DyckConfig
from spark_edu.transformer import count_parameters
from spark_edu.verifier import verifier_loss

SHORT = DyckConfig(n_types=1, min_length=2, max_length=12, min_depth=1, max_depth=3)  # few distinct strings
CHAPTER = DyckConfig(n_types=1, min_length=2, max_length=20, min_depth=1, max_depth=4)  # the chapter's training


def test_part_of_is_a_crc32_bucket():
    for s in ["()", "(())", "([)]", "[[]]()", ")("]:
        bucket = binascii.crc32(s.encode("ascii")) % 10  # an independent CRC-32
        assert dyck.part_of(s) == ("test" if bucket == 0 else "val" if bucket == 1 else "train")


def test_training_and_test_strings_are_disjoint_and_the_check_can_fail():
    g = torch.Generator().manual_seed(0)
    train = {s for _ in range(100) for s in dyck.sample_strings(64, CHAPTER, g, part="train")}
    test = dyck.sample_strings(200, CHAPTER, torch.Generator().manual_seed(1), part="test", unique=True)
    assert len(set(test)) == len(test) == 200  # deduplicated
    assert not train & set(test)  # brute-force intersection: nothing shared
    assert all(dyck.part_of(s) == "train" for s in train) and all(dyck.part_of(s) == "test" for s in test)
    assert sum(dyck.is_valid(s) for s in test) == 100  # still balanced
    # the same check on a test set drawn the old way finds shared strings: it can fail
    old = dyck.sample_strings(200, CHAPTER, torch.Generator().manual_seed(1))
    assert len(train & set(old)) > 20


def test_default_draw_is_unchanged():
    """Without part/unique the generator consumes the same random numbers as before the options."""
    a = dyck.sample_strings(20, SHORT, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    b = []
    for _ in range(10):
        b.append(dyck.sample_valid(SHORT, g))
        b.append(dyck.corrupt(dyck.sample_valid(SHORT, g), 1, g))
    assert a == b


def test_too_few_distinct_strings_is_a_clear_error():
    only = DyckConfig(n_types=1, min_length=2, max_length=2, min_depth=1, max_depth=1)  # "()" and its corruptions
    with pytest.raises(ValueError, match="distinct"):
        dyck.sample_strings(10, only, torch.Generator().manual_seed(0), unique=True)
    with pytest.raises(ValueError, match="part"):
        dyck.sample_strings(2, only, torch.Generator(), part="dev")


def test_chapter_datasets_share_no_string_with_training():
    cfg = replace(
        ExperimentConfig(), steps=30, n_test=100, n_val=50, n_probe=10, probe_lengths=(20,), probe_depths=(2, 4)
    )
    data = datasets(cfg, language=1, seed=0)
    counts = overlap(data)
    assert counts["test_in_train"] == counts["val_in_train"] == counts["probes_in_train"] == 0
    assert counts["test_distinct"] == 100 and counts["train_strings"] == 30 * cfg.batch_size
    assert counts["unsplit_in_train"] > 0.2  # drawn the old way, many test strings were trained on
    seen = {s for b in data["batches"] for s in b.strings}
    assert not seen & set(data["test"].strings)  # the same, recounted here


def test_sequence_only_loss_is_the_sequence_bce_alone():
    g = torch.Generator().manual_seed(0)
    batch = dyck.make_dataset(8, SHORT, g)
    B, T = batch.tokens.shape
    depth, step = torch.randn(B, T, generator=g), torch.randn(B, T, generator=g)
    valid_logits = torch.randn(B, generator=g)
    p, y = valid_logits.sigmoid(), batch.valid.double()
    by_hand = -(y * p.double().log() + (1 - y) * (1 - p.double()).log()).mean()
    loss = verifier_loss(depth, step, valid_logits, batch.depth, batch.prefix_ok, batch.valid, batch.mask, True)
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)
    scrambled = verifier_loss(
        depth, step, valid_logits, batch.depth + 3, ~batch.prefix_ok, batch.valid, batch.mask, sequence_only=True
    )
    assert scrambled.item() == loss.item()  # per-step labels do not enter
    full = verifier_loss(depth, step, valid_logits, batch.depth, batch.prefix_ok, batch.valid, batch.mask)
    assert full.item() > loss.item()
    assert F.binary_cross_entropy_with_logits(valid_logits, batch.valid.float()).item() == pytest.approx(loss.item())
    with pytest.raises(TypeError, match="sequence_only"):
        verifier_loss(depth, step, valid_logits, batch.depth, batch.prefix_ok, batch.valid, batch.mask, 1)


def test_models_are_matched_and_baselines_are_causal():
    cfg = ExperimentConfig()
    models = build_models(cfg, 0)
    assert set(models) == set(MODELS)
    target = count_parameters(models["verifier"])
    for name in ("transformer", "lstm", "lstm_seq", "verifier_seq"):
        assert abs(count_parameters(models[name]) - target) / target < 0.02, name
    assert models["transformer"].encoder.config.n_layers >= 2 and models["transformer"].encoder.config.causal
    batch = dyck.encode(["(()())[]", "(()(([]"])
    changed = batch.tokens.clone()
    changed[:, 5:] = torch.where(batch.mask[:, 5:], 1 + changed[:, 5:] % 4, changed[:, 5:])  # another symbol
    for name in ("transformer", "lstm"):
        model = models[name].eval()
        before = predictions(model, batch)[1]
        after = predictions(model, replace_tokens(batch, changed))[1]
        torch.testing.assert_close(before[:, :5], after[:, :5])  # a prefix never sees its future
        assert not torch.allclose(before[:, 5:], after[:, 5:])


def replace_tokens(batch, tokens):
    return dyck.DyckBatch(batch.strings, tokens, batch.mask, batch.depth, batch.prefix_ok, batch.valid)


def test_choose_lrs_takes_the_best_validation_score():
    cfg = replace(ExperimentConfig(), languages=(1, 2), tune_language=2, models=("lstm", "lstm_seq"))

    def run(model, lr, valid, depth, language=2):
        return {"language": language, "seed": 0, "model": model, "lr": lr, "val": {"validation": valid, "depth": depth}}

    runs = [
        run("lstm", 1e-3, 0.9, 0.1),
        run("lstm", 3e-3, 0.8, 0.6),  # best mean of validation and depth
        run("lstm", 1e-2, 0.95, 0.2),
        run("lstm_seq", 1e-3, 0.7, 0.9),
        run("lstm_seq", 3e-3, 0.9, 0.0),  # sequence only: validation alone decides
        run("lstm_seq", 1e-2, 0.9, 0.0),  # a tie keeps the first
        run("lstm", 1e-2, 1.0, 1.0, language=1),  # not the tuning language: ignored
    ]
    chosen = {"lstm": 3e-3, "lstm_seq": 3e-3}
    assert choose_lrs(runs, cfg) == {"1": chosen, "2": chosen}  # the tuning language's rates for every language


def test_sequence_long_command_trains_only_the_sequence_models_and_keeps_the_weights(monkeypatch, tmp_path):
    """``run verifier --sequence-long``: the two sequence-label-only models at the longer budget,
    written to sequence_long.json, with no weights saved over the shipped seed-0 verifier."""
    import json

    import spark_edu.chapters.verifier.sweep as sweep
    from spark_edu.__main__ import main
    from spark_edu.chapters.verifier.models import SEQUENCE_LONG

    seen = []

    def fake(cfg, jobs, save_dir, on_progress=None, previous=None):
        seen.append((cfg, save_dir))
        return {"config": {"models": list(cfg.models)}, "runs": [], "provenance": {"wall_s": 1.0}}

    monkeypatch.setattr(sweep, "run_sweep", fake)
    monkeypatch.setattr("spark_edu.chapters.verifier.experiments.summary", lambda results: [])
    argv = ["run", "verifier", "--sequence-long", "--out", str(tmp_path)]
    monkeypatch.setattr("sys.argv", ["python -m spark_edu", *argv])  # the command is recorded from sys.argv
    assert main(argv) == 0
    assert seen == [(SEQUENCE_LONG, None)] and set(SEQUENCE_LONG.models) == {"lstm_seq", "verifier_seq"}
    assert SEQUENCE_LONG.steps > ExperimentConfig().steps and not SEQUENCE_LONG.probes
    saved = json.loads((tmp_path / "sequence_long.json").read_text())
    assert saved["provenance"]["command"].endswith("--sequence-long --out " + str(tmp_path))
    assert not (tmp_path / "results.json").exists()
