"""Truthfulness chapter: metrics against scikit-learn/scipy, generator properties,
classifiers against chance, the LIAR loader, and bad input."""

from functools import partial

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.feature_extraction.text import TfidfVectorizer

from spark_edu.claims import claims_for
from spark_edu.device import one_thread
from spark_edu.truthfulness import metrics
from spark_edu.truthfulness.classifiers import (
    TfidfLogisticRegression,
    TransformerClassifier,
    TransformerClassifierConfig,
    cross_val_probs,
)
from spark_edu.truthfulness.liar_like import (
    CUE_WEIGHTS,
    EVIDENCE,
    MAGNITUDE,
    SUBJECTS,
    bayes_optimal,
    binary_collapse,
    clean_level,
    liar_like_statements,
    prototype_style_statements,
)
from spark_edu.truthfulness.liar_tsv import load_liar
from spark_edu.truthfulness.text import Tfidf, tokenize
from spark_edu.truthfulness.truthfulqa_like import (
    VALUES,
    imitation_scores,
    mc1_accuracy,
    multiple_choice_items,
    truthfulqa_like,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one thread is as fast, and avoids two threads spinning on a shared machine."""
    with one_thread():
        yield


# ----------------------------------------------------------------------------- metrics
def _cases():
    """(labels, scores) pairs: random with and without ties, plus the edge cases."""
    rng = np.random.default_rng(0)
    cases = []
    for n in (7, 50, 333):
        y = rng.integers(0, 2, n)
        s = rng.random(n) + 0.6 * y
        cases.append((y, s))
        cases.append((y, np.round(s, 1)))  # many ties
    y = np.array([0, 0, 1, 1, 0, 1])
    cases += [(y, y * 1.0), (y, 1.0 - y), (y, np.full(6, 0.5)), (y, np.array([0.1, 0.4, 0.35, 0.8, 0.8, 0.8]))]
    return cases


@pytest.mark.parametrize("case", range(len(_cases())))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.9])
def test_threshold_metrics_match_sklearn(case, threshold):
    y, s = _cases()[case]
    pred = (s >= threshold).astype(int)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y, pred).numpy(), skm.confusion_matrix(y, pred, labels=[0, 1])
    )
    assert metrics.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert metrics.precision(y, pred) == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert metrics.recall(y, pred) == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert metrics.f1_score(y, pred) == pytest.approx(skm.f1_score(y, pred, zero_division=0))


@pytest.mark.parametrize("case", range(len(_cases())))
def test_roc_and_auc_match_sklearn(case):
    y, s = _cases()[case]
    fpr, tpr, thr = metrics.roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr.numpy(), sk_fpr)
    np.testing.assert_allclose(tpr.numpy(), sk_tpr)
    np.testing.assert_allclose(thr.numpy()[1:], sk_thr[1:])
    assert metrics.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert metrics.trapezoid_auc(fpr, tpr) == pytest.approx(metrics.roc_auc(y, s), abs=1e-12)


def test_auc_edge_values():
    y = np.array([0, 0, 1, 1, 0, 1])
    assert metrics.roc_auc(y, y * 1.0) == 1.0  # perfect
    assert metrics.roc_auc(y, 1.0 - y) == 0.0  # inverted
    assert metrics.roc_auc(y, np.full(6, 3.0)) == 0.5  # all tied: every pair counts one half


def test_average_ranks_match_scipy():
    s = torch.tensor([3.0, 1.0, 3.0, 2.0, 3.0, 1.0])
    np.testing.assert_allclose(metrics.average_ranks(s).numpy(), stats.rankdata(s.numpy()))


def test_all_one_class():
    y, s = np.ones(5, dtype=int), np.array([0.1, 0.7, 0.4, 0.9, 0.6])
    pred = (s >= 0.5).astype(int)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y, pred).numpy(), skm.confusion_matrix(y, pred, labels=[0, 1])
    )
    assert metrics.precision(y, pred) == skm.precision_score(y, pred, zero_division=0)
    assert (
        metrics.recall(1 - y, pred) == skm.recall_score(1 - y, pred, zero_division=0) == 0.0
    )  # no positives: 0/0 -> 0
    assert metrics.f1_score(1 - y, pred) == skm.f1_score(1 - y, pred, zero_division=0)
    with pytest.raises(ValueError, match="only one class"):
        metrics.roc_auc(y, s)
    with pytest.warns(UndefinedMetricWarning):  # scikit-learn: undefined too (NaN + warning)
        assert np.isnan(skm.roc_auc_score(y, s))
    with pytest.raises(ValueError, match="both classes"):
        metrics.roc_curve(y, s)


@pytest.mark.parametrize("n_bins", [5, 10])
def test_ece_matches_sklearn_calibration_curve(n_bins):
    rng = np.random.default_rng(1)
    p = np.round(rng.random(400), 2)  # includes values exactly on bin edges
    y = (rng.random(400) < p**1.5).astype(int)
    frac_pos, mean_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p), minlength=n_bins)
    expected = np.sum(counts[counts > 0] / len(p) * np.abs(frac_pos - mean_pred))
    assert metrics.expected_calibration_error(y, p, n_bins) == pytest.approx(expected, abs=1e-12)
    # Guo et al.'s confidence form is the same computation on (correct?, max(p, 1 - p))
    correct, conf = ((p >= 0.5) == y).astype(int), np.maximum(p, 1 - p)
    frac_c, mean_c = calibration_curve(correct, conf, n_bins=n_bins, strategy="uniform")
    counts_c = np.bincount(np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], conf), minlength=n_bins)
    expected_c = np.sum(counts_c[counts_c > 0] / len(p) * np.abs(frac_c - mean_c))
    assert metrics.expected_calibration_error(y, p, n_bins, kind="confidence") == pytest.approx(expected_c, abs=1e-12)


def test_ece_of_perfectly_calibrated_bins_is_zero():
    y = torch.tensor([0, 1, 0, 1, 1, 1, 1, 0])  # 2 of 4 true at p=0.5, 3 of 4 true at p=0.75
    p = torch.tensor([0.5] * 4 + [0.75] * 4)
    assert metrics.expected_calibration_error(y, p) == pytest.approx(0.0)


def test_bootstrap_matches_scipy_and_normal_approximation():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 1000)
    s = np.where(rng.random(1000) < 0.8, y, 1 - y).astype(float)  # 80% correct predictions
    value, low, high = metrics.bootstrap_ci(y, s, "accuracy", n_resamples=4000, seed=0)
    ref = stats.bootstrap(
        ((s == y).astype(float),),
        np.mean,
        n_resamples=4000,
        method="percentile",
        confidence_level=0.95,
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.006) and high == pytest.approx(ref.high, abs=0.006)
    half = 1.96 * np.sqrt(value * (1 - value) / 1000)
    assert low == pytest.approx(value - half, abs=0.006) and high == pytest.approx(value + half, abs=0.006)
    v_auc, lo_auc, hi_auc = metrics.bootstrap_ci(y, s + rng.random(1000) * 0.1, "auc", n_resamples=500)
    assert lo_auc < v_auc < hi_auc


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.roc_auc([0, 1, 1], [0.2, 0.4]),  # lengths differ
        lambda: metrics.roc_auc([0, 2, 1], [0.2, 0.4, 0.5]),  # label outside {0, 1}
        lambda: metrics.roc_auc([], []),  # empty
        lambda: metrics.roc_auc([0, 1, 1], [0.2, float("nan"), 0.5]),  # NaN score
        lambda: metrics.accuracy([0, 1, 1], [0, 0.7, 1]),  # predictions must be 0/1
        lambda: metrics.expected_calibration_error([0, 1], [0.2, 1.3]),  # probabilities outside [0, 1]
        lambda: metrics.bootstrap_ci([0, 1], [0.2, 0.4], metric="kappa"),
        lambda: metrics.bootstrap_ci([0, 1], [0.2, 0.4], level=1.0),
    ],
)
def test_metrics_reject_bad_input(call):
    with pytest.raises(ValueError, match="labels|scores|preds|probs|empty|metric|level"):
        call()


def test_tfidf_matches_sklearn():
    texts = liar_like_statements(60, noise=0.0, seed=3).texts
    ours = Tfidf.fit(texts)
    sk = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None)
    ref = sk.fit_transform(texts).toarray()
    cols = [ours.vocab.index[w] for w in sk.get_feature_names_out()]
    np.testing.assert_allclose(ours.transform(texts)[:, cols].numpy(), ref, atol=1e-6)


# ----------------------------------------------------------------------------- generators
def test_liar_like_is_balanced_and_deterministic():
    a = liar_like_statements(1000, noise=0.2, balance=0.5, seed=0)
    b = liar_like_statements(1000, noise=0.2, balance=0.5, seed=0)
    assert a.texts == b.texts and torch.equal(a.labels6, b.labels6)
    assert liar_like_statements(1000, noise=0.2, seed=1).texts != a.texts
    assert int(binary_collapse(a.clean_labels6).sum()) == 500  # clean labels exactly balanced
    assert abs(a.labels.float().mean().item() - 0.5) < 0.03  # observed: balanced up to noise
    c = liar_like_statements(400, noise=0.0, balance=0.3, seed=0)
    assert int(c.labels.sum()) == 120


def test_label_is_the_stated_function_of_the_text_plus_stated_noise():
    eta, n = 0.3, 4000
    d = liar_like_statements(n, noise=eta, seed=5)
    assert [clean_level(t) for t in d.texts] == d.clean_labels6.tolist()
    changed = (d.labels6 != d.clean_labels6).float().mean().item()
    assert abs(changed - 5 * eta / 6) < 4 * np.sqrt(0.25 / n)  # a random label is wrong 5 times in 6
    bayes_pred = binary_collapse(d.clean_labels6)
    acc = (bayes_pred == d.labels).float().mean().item()
    assert abs(acc - bayes_optimal(eta)["accuracy"]) < 4 * np.sqrt(0.25 / n)
    assert abs(metrics.roc_auc(d.labels, bayes_pred.double()) - bayes_optimal(eta)["auc"]) < 0.03


def test_bayes_auc_formula_by_simulation_at_imbalance():
    d = liar_like_statements(6000, noise=0.4, balance=0.3, seed=2)
    score = binary_collapse(d.clean_labels6).double()  # the Bayes posterior is increasing in it
    assert metrics.roc_auc(d.labels, score) == pytest.approx(bayes_optimal(0.4, 0.3)["auc"], abs=0.02)


def test_cue_words_are_unique_to_their_phrase():
    template_words = [w for phrase, _, _ in EVIDENCE + MAGNITUDE for w in tokenize(phrase.format(n=1))]
    template_words += [w for subjects in SUBJECTS.values() for s in subjects for w in tokenize(s)]
    for _phrase, cue, weight in EVIDENCE + MAGNITUDE:
        if cue is not None:
            assert template_words.count(cue) == 1, cue
            assert CUE_WEIGHTS[cue] == weight


def test_prototype_style_labels_ignore_the_text():
    p = prototype_style_statements(4000, seed=0)
    assert p.texts == liar_like_statements(4000, noise=0.0, seed=0).texts
    acc = (binary_collapse(p.clean_labels6) == p.labels).float().mean().item()
    assert abs(acc - 0.5) < 0.03  # the text's own truth predicts these labels at chance
    assert abs(p.labels.float().mean().item() - 7167 / 12836) < 0.03  # LIAR's share of "true" side


def test_truthfulqa_like_world_and_labels():
    world, pairs = truthfulqa_like(600, noise=0.0, seed=0)
    for a, values in VALUES.items():
        truths = [world.truth[e][a] for e in world.truth]
        myths = [world.myth[e][a] for e in world.myth]
        assert all(truths.count(v) == 2 and myths.count(v) == 2 for v in values)
        assert all(t != m for t, m in zip(truths, myths))
    for text, label in zip(pairs.texts, pairs.labels.tolist()):
        question, answer = text.split(" | ")
        entity, value = answer.split()[0], answer.split()[-1]
        attribute = next(a for a in VALUES if value in VALUES[a])
        assert label == int(world.truth[entity][attribute] == value)
    assert int(pairs.labels.sum()) == 300
    _, noisy = truthfulqa_like(4000, noise=0.25, seed=0)
    assert abs((noisy.labels != noisy.clean_labels).float().mean().item() - 0.25) < 0.03
    items = multiple_choice_items(world)
    oracle = [
        torch.tensor([float(c.split()[-1] == world.truth[i.entity][i.attribute]) for c in i.choices]) for i in items
    ]
    assert mc1_accuracy(items, oracle) == 1.0
    assert mc1_accuracy(items, imitation_scores(world, items, myth_rate=0.8)) < 0.2


# ----------------------------------------------------------------------------- classifiers
def _auc_ci(labels, probs):
    return metrics.bootstrap_ci(labels, probs, "auc", n_resamples=500)


def _null_auc_sd(labels) -> float:
    """Standard deviation of the AUC of scores independent of the labels (Mann-Whitney null)."""
    n_pos = int(torch.as_tensor(labels).sum())
    n_neg = len(labels) - n_pos
    return float(np.sqrt((n_pos + n_neg + 1) / (12 * n_pos * n_neg)))


def test_logistic_regression_beats_chance_only_when_labels_depend_on_text():
    real = liar_like_statements(800, noise=0.2, seed=0)
    p = cross_val_probs(TfidfLogisticRegression.fit, real.texts, real.labels, n_folds=4)
    _, low, _ = metrics.bootstrap_ci(real.labels, p, "accuracy", n_resamples=500)
    assert low > 0.75
    proto = prototype_style_statements(800, seed=0)
    p = cross_val_probs(TfidfLogisticRegression.fit, proto.texts, proto.labels, n_folds=4)
    assert abs(metrics.roc_auc(proto.labels, p) - 0.5) < 4 * _null_auc_sd(proto.labels)  # chance, up to sampling
    majority = max(proto.labels.float().mean().item(), 0.5)
    assert metrics.accuracy(proto.labels, (p >= 0.5).long()) < majority + 0.03


def test_transformer_classifier_beats_chance_only_when_labels_depend_on_text():
    fit = partial(TransformerClassifier.fit, config=TransformerClassifierConfig(steps=120))
    for data, should_learn in [
        (liar_like_statements(700, noise=0.2, seed=1), True),
        (prototype_style_statements(700, seed=1), False),
    ]:
        model = fit(data.texts[:500], data.labels[:500])
        probs = model.predict_proba(data.texts[500:])
        auc = metrics.roc_auc(data.labels[500:], probs)
        if should_learn:
            assert _auc_ci(data.labels[500:], probs)[1] > 0.7
        else:
            assert abs(auc - 0.5) < 4 * _null_auc_sd(data.labels[500:])


def test_transformer_sees_question_answer_interactions_bag_of_words_does_not():
    _, pairs = truthfulqa_like(900, noise=0.0, seed=0)
    texts, y = list(pairs.texts), pairs.labels
    lr = TfidfLogisticRegression.fit(texts[:700], y[:700]).predict_proba(texts[700:])
    assert abs(metrics.roc_auc(y[700:], lr) - 0.5) < 0.12
    tf = TransformerClassifier.fit(texts[:700], y[:700], TransformerClassifierConfig(steps=250))
    assert metrics.roc_auc(y[700:], tf.predict_proba(texts[700:])) > 0.85


# ----------------------------------------------------------------------------- loader, bad input, chapter
_ROW = (
    "1.json\t{label}\tSays the deficit fell.\teconomy,taxes\tjane doe\tsenator\tOhio\tdemocrat"
    "\t1\t2\t3\t4\t5\ta TV ad\n"
)


def test_load_liar_reads_the_tsv_format(tmp_path):
    (tmp_path / "test.tsv").write_text(_ROW.format(label="pants-fire") + _ROW.format(label="mostly-true"))
    d = load_liar(tmp_path, "test")
    assert d.labels6.tolist() == [0, 4] and d.labels.tolist() == [0, 1]
    assert d.speakers[0] == "jane_doe" and d.venues[0] == "a_tv_ad" and d.subjects[0] == "economy"
    assert d.texts[0].endswith("| Says the deficit fell.")


def test_load_liar_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="liar_dataset.zip"):
        load_liar(tmp_path / "nowhere", "train")
    with pytest.raises(ValueError, match="split"):
        load_liar(tmp_path, "dev")
    (tmp_path / "train.tsv").write_text(_ROW.format(label="sort-of-true"))
    with pytest.raises(ValueError, match="label must be one of"):
        load_liar(tmp_path, "train")
    (tmp_path / "valid.tsv").write_text("1.json\ttrue\tonly three columns\n")
    with pytest.raises(ValueError, match="14 tab-separated columns"):
        load_liar(tmp_path, "valid")


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: liar_like_statements(100, noise=1.5), "noise"),
        (lambda: liar_like_statements(100, balance=1.0), "balance"),
        (lambda: liar_like_statements(1), "n must be"),
        (lambda: prototype_style_statements(100, class_weights=(1, 1)), "class_weights"),
        (lambda: truthfulqa_like(100, noise=-0.1), "noise"),
        (lambda: binary_collapse(torch.tensor([0, 6])), "six-way"),
        (lambda: cross_val_probs(TfidfLogisticRegression.fit, ["a b", "c d"], [0, 1], n_folds=3), "n_folds"),
        (lambda: TfidfLogisticRegression.fit(["a b", "c d"], [0, 1, 1]), "same length"),
        (lambda: TfidfLogisticRegression.fit(["a b", "c d"], [0, 2]), "labels"),
        (lambda: cross_val_probs(TfidfLogisticRegression.fit, ["a b", "c d", "e f"], [0, 1], n_folds=2), "same length"),
        (lambda: bayes_optimal(0.2, balance=0.0), "balance"),
    ],
)
def test_generators_and_classifiers_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.fixture(scope="module")
def tiny_results():
    """The chapter's whole run on 120 statements: 2 × 2 nested folds, small grids, 10 transformer steps."""
    from spark_edu.chapters.truthfulness import experiments

    tiny = experiments.TruthExperiment(
        n=120,
        outer_folds=2,
        inner_folds=2,
        n_resamples=50,
        transformer_steps=10,
        lr_grid=(0.1,),
        l2_grid=(1e-4, 1e-3),
        transformer_lr_grid=(1e-3, 3e-3),
    )
    with one_thread():
        return experiments.run(tiny)


def test_measurements_cover_every_claim_and_label_typed_numbers(tiny_results):
    from spark_edu.chapters.truthfulness import experiments

    ms = experiments.measurements(tiny_results)
    assert sorted(m.key for m in ms) == sorted(c.key for c in claims_for("truthfulness"))
    typed = {"modular.truth." + k for k in ("accuracy", "precision", "recall", "f1", "auc")}
    assert all((not m.as_stated) == (m.key in typed) for m in ms)
    assert all(m.low <= m.value <= m.high for m in ms if m.key in typed)


def test_result_tables_show_claims_intervals_and_calibration(tiny_results):
    from spark_edu.chapters.truthfulness import experiments

    table = experiments.format_tables(tiny_results)
    assert [row[0] for row in table.rows] == list(experiments.METRIC_CLAIMS)
    assert table.columns[2] == "LIAR-like / logistic regression" and "Bayes-optimal" in table.notes
    value, low, high = tiny_results.tables["LIAR-like", "logistic regression"]["auc"]
    assert f"{value:.3f} [{low:.3f}, {high:.3f}]" in repr(table).splitlines()[-2]  # the auc row, above the notes
    calibration = experiments.format_calibration(tiny_results)
    assert [row[:2] for row in calibration.rows] == [list(key) for key in tiny_results.ece]
    sweep = experiments.format_noise_sweep([{"noise": 0.2, "accuracy": 0.8, "low": 0.75, "high": 0.85, "bayes": 0.9}])
    assert repr(sweep).splitlines()[-1].split() == ["0.2", "0.800", "[0.750,", "0.850]", "0.900"]


def test_render_returns_a_three_panel_figure():
    import matplotlib.pyplot as plt

    from spark_edu.chapters.truthfulness.figures import render

    fig = render(noise=0.3, n_samples=200, balance=0.4, threshold=0.3)
    assert len(fig.axes) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="threshold"):
        render(threshold=1.5)


def test_roc_and_noise_figures_show_every_classifier_and_noise_level(tiny_results):
    import matplotlib.pyplot as plt

    from spark_edu.chapters.truthfulness.figures import noise_figure, roc_figure

    fig = roc_figure(tiny_results)
    assert [ax.get_title() for ax in fig.axes] == ["LIAR-like labels", "prototype-style labels"]
    for ax, d_name in zip(fig.axes, tiny_results.data):
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        names = [c for c in ("logistic regression", "transformer") if (d_name, c) in tiny_results.probs]
        aucs = [metrics.roc_auc(tiny_results.data[d_name].labels, tiny_results.probs[d_name, c]) for c in names]
        assert labels == [f"{c} (AUC {a:.3f})" for c, a in zip(names, aucs)]
    assert len(fig.axes[0].get_legend().get_texts()) == 2  # both classifiers on the LIAR-like data
    plt.close(fig)
    rows = [
        {"noise": eta, "accuracy": 0.9 - eta / 3, "low": 0.85 - eta / 3, "high": 0.95 - eta / 3, "bayes": 1 - eta / 2}
        for eta in (0.0, 0.5, 1.0)
    ]
    fig = noise_figure(rows)
    (ax,) = fig.axes
    bayes_line = next(line for line in ax.get_lines() if line.get_label().startswith("Bayes"))
    np.testing.assert_allclose(bayes_line.get_ydata(), [1.0, 0.75, 0.5])
    plt.close(fig)


def test_tiny_run_chooses_inside_the_grid_and_pairs_the_classifiers(tiny_results):
    for key, chosen in tiny_results.chosen.items():
        assert len(chosen) == 2
        if key[1] == "transformer":
            assert all(c["lr"] in (1e-3, 3e-3) for c in chosen)
        else:
            assert all(c == {"lr": 0.1, "l2": c["l2"]} and c["l2"] in (1e-4, 1e-3) for c in chosen)
    delong, mcnemar = tiny_results.paired["LIAR-like"]
    labels = tiny_results.data["LIAR-like"].labels
    assert delong.auc_a == pytest.approx(
        metrics.roc_auc(labels, tiny_results.probs["LIAR-like", "logistic regression"])
    )
    assert "prototype-style" not in tiny_results.paired  # only one classifier ran there
    for (d_name, c_name), ece in tiny_results.ece.items():
        probs = tiny_results.probs[d_name, c_name]
        assert ece["before"][0] == pytest.approx(
            metrics.expected_calibration_error(tiny_results.data[d_name].labels, probs)
        )


def test_truthfulqa_chapter_prints_zero_overlap_only_for_the_split_by_fact():
    from spark_edu.chapters.truthfulness import truthfulqa

    result = truthfulqa.run(seeds=(0, 1), n_train=200, n_test=60, steps=5)
    assert result["summary"]["by fact"]["overlap"] == {"texts": 0.0, "facts": 0.0}
    assert result["summary"]["by row"]["overlap"]["texts"] > 0.9
    for r in result["per_seed"]:
        assert r["by fact"]["n_distinct"] <= 2 * r["by fact"]["n_items"]  # two answers per held-out fact
    table = repr(truthfulqa.format_summary(result)).splitlines()
    assert len(table) == 2 + 4 and table[-1].split()[:4] == ["by", "fact", "transformer", "0.000"]


def test_runs_in_worker_processes_give_the_same_results(tiny_results):
    # the notebook runs the pairs (and the TruthfulQA-like seeds) two at a time
    from spark_edu.chapters.truthfulness import experiments, truthfulqa

    parallel = experiments.run(tiny_results.config, workers=2)
    assert parallel.chosen == tiny_results.chosen
    for key, probs in tiny_results.probs.items():
        assert torch.equal(parallel.probs[key], probs)
    one, two = (truthfulqa.run(seeds=(0, 1), n_train=120, n_test=40, steps=3, workers=w) for w in (1, 2))
    assert one["summary"] == two["summary"]
