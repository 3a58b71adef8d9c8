"""Truthfulness statistics against independent references: DeLong's AUC test (scikit-learn,
brute-force placements, a large bootstrap), McNemar's test (scipy), temperature scaling
(scipy's minimiser), ECE by hand, nested cross-validation (a spy that records what each fit
saw) and the split by fact (facts parsed back from the texts)."""

import re

import numpy as np
import pytest
import torch
from scipy import optimize, stats
from sklearn.metrics import roc_auc_score

from spark_edu.device import one_thread
from spark_edu.truthfulness import calibration, metrics
from spark_edu.truthfulness import stats as tstats
from spark_edu.truthfulness.classifiers import cross_val_probs, fold_ids
from spark_edu.truthfulness.selection import grid, log_loss, nested_cross_val
from spark_edu.truthfulness.truthfulqa_like import (
    ANSWERS,
    FACTS,
    QUESTIONS,
    VALUES,
    fact_split,
    split_facts,
    truthfulqa_like,
)


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def _scores(n=120, ties=False, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    a = rng.normal(size=n) + 1.0 * y
    b = 0.6 * a + rng.normal(size=n) + 0.5 * y  # correlated with a, as two classifiers are
    if ties:
        a, b = np.round(a, 0), np.round(b, 0)
    return y, a, b


def _brute_placements(y, s):
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])  # (m, n)
    return psi.mean(1), psi.mean(0)


# ----------------------------------------------------------------------------- DeLong
@pytest.mark.parametrize("ties", [False, True])
def test_delong_auc_and_placements_match_sklearn_and_brute_force(ties):
    y, a, b = _scores(ties=ties)
    v10, v01 = tstats.placements(y, torch.tensor(np.stack([a, b])))
    for k, s in enumerate((a, b)):
        bv10, bv01 = _brute_placements(y, s)
        np.testing.assert_allclose(v10[k].numpy(), bv10, atol=1e-12)
        np.testing.assert_allclose(v01[k].numpy(), bv01, atol=1e-12)
    r = tstats.delong_test(y, a, b)
    assert r.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert r.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)


def test_delong_covariance_matches_brute_force_structural_components():
    y, a, b = _scores(n=90, seed=3)
    comps = [_brute_placements(y, s) for s in (a, b)]
    m, n = int(y.sum()), int((1 - y).sum())
    s10 = np.cov(np.stack([c[0] for c in comps]))
    s01 = np.cov(np.stack([c[1] for c in comps]))
    _, cov = tstats.delong_covariance(y, torch.tensor(np.stack([a, b])))
    np.testing.assert_allclose(cov.numpy(), s10 / m + s01 / n, rtol=1e-10)


def test_delong_variance_agrees_with_a_large_paired_bootstrap():
    y, a, b = _scores(n=200, seed=1)
    r = tstats.delong_test(y, a, b)
    _, cov = tstats.delong_covariance(y, torch.tensor(np.stack([a, b])))
    rng = np.random.default_rng(0)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m, n = len(pos), len(neg)
    idx = np.concatenate([rng.choice(pos, (20000, m)), rng.choice(neg, (20000, n))], axis=1)  # stratified

    def mann_whitney_auc(s):  # (R, N) resampled scores, the first m positive: scipy's ranks
        ranks = stats.rankdata(s, axis=1)
        return (ranks[:, :m].sum(1) - m * (m + 1) / 2) / (m * n)

    auc_a = mann_whitney_auc(a[idx])
    diffs = auc_a - mann_whitney_auc(b[idx])
    assert auc_a.mean() == pytest.approx(roc_auc_score(y, a), abs=0.005)
    assert np.var(auc_a) == pytest.approx(float(cov[0, 0]), rel=0.08)
    assert np.std(diffs) == pytest.approx(r.se, rel=0.05)


def test_delong_z_and_p_value_follow_from_the_difference():
    y, a, b = _scores(seed=2)
    r = tstats.delong_test(y, a, b)
    assert r.z == pytest.approx(r.difference / r.se)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(r.z)), rel=1e-9)
    assert r.low < r.difference < r.high
    same = tstats.delong_test(y, a, a)
    assert same.difference == 0 and same.p_value == 1.0


def test_delong_rejects_at_about_the_nominal_rate_under_the_null():
    rng = np.random.default_rng(5)
    rejections = 0
    for _ in range(300):
        y = rng.integers(0, 2, 150)
        latent = rng.normal(size=150) + y
        a, b = latent + rng.normal(size=150), latent + rng.normal(size=150)  # equal AUC by symmetry
        rejections += tstats.delong_test(y, a, b).p_value < 0.05
    assert 0.02 <= rejections / 300 <= 0.09


# ----------------------------------------------------------------------------- McNemar
@pytest.mark.parametrize("b, c", [(0, 0), (1, 0), (3, 9), (10, 10), (40, 61), (7, 0), (250, 301)])
def test_mcnemar_matches_scipy(b, c):
    y = np.ones(b + c + 5, dtype=int)
    pa = np.concatenate([np.ones(b), np.zeros(c), np.ones(5)]).astype(int)  # right on b, wrong on c
    pb = np.concatenate([np.zeros(b), np.ones(c), np.ones(5)]).astype(int)
    r = tstats.mcnemar_test(y, pa, pb)
    assert (r.b, r.c) == (b, c)
    if b + c == 0:
        assert r.p_exact == 1.0 and r.p_chi2 == 1.0
        return
    assert r.p_exact == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)
    assert r.chi2 == pytest.approx(max(abs(b - c) - 1, 0) ** 2 / (b + c))
    assert r.p_chi2 == pytest.approx(stats.chi2.sf(r.chi2, df=1), rel=1e-9)
    plain = tstats.mcnemar_test(y, pa, pb, correction=False)
    assert plain.p_chi2 == pytest.approx(stats.chi2.sf((b - c) ** 2 / (b + c), df=1), rel=1e-9)


def test_mcnemar_ignores_statements_both_get_right_or_wrong():
    y = torch.tensor([1, 0, 1, 0, 1, 1])
    pa = torch.tensor([1, 1, 0, 0, 1, 0])  # right on 0, 3, 4
    pb = torch.tensor([1, 1, 1, 1, 0, 0])  # right on 0, 2
    r = tstats.mcnemar_test(y, pa, pb)
    assert (r.b, r.c) == (2, 1)  # a alone right on 3, 4; b alone right on 2
    assert r.p_exact == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: tstats.mcnemar_test([0, 1], [0, 2], [0, 1]), "preds_a"),
        (lambda: tstats.mcnemar_test([0, 1], [0, 1], [0.3, 1]), "preds_b"),
        (lambda: tstats.delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2]), "scores_a and scores_b"),
        (lambda: tstats.delong_test([1, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3]), "both classes"),
        (lambda: tstats.delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.5, 0.3]), "at least two"),
        (lambda: tstats.binomial_two_sided(5, 3), "k must"),
        (lambda: calibration.apply_temperature([0.5], 0.0), "temperature"),
        (lambda: calibration.fit_temperature([0, 1], [0.2, 1.5]), "probs"),
        (lambda: calibration.cross_fit_temperature([0, 1], [0.2, 0.4], n_folds=3), "n_folds"),
        (lambda: grid(lr=()), "grid"),
        (lambda: split_facts(test_fraction=1.0), "test_fraction"),
        (lambda: truthfulqa_like(10, facts=(("nobody", "colour"),)), "facts"),
        (lambda: fold_ids(10, 3, groups=["a", "b"] * 5), "groups"),
        (lambda: fold_ids(10, 3, groups=["a", "b"] * 5 + []), "n_folds"),
    ],
)
def test_stats_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- calibration
def test_ece_by_hand():
    y = torch.tensor([0, 1, 1, 0, 1, 1])
    p = torch.tensor([0.05, 0.15, 0.55, 0.62, 0.95, 0.91])
    # 10 bins: [0, .1) {0.05: y 0}; [.1, .2) {0.15: y 1}; [.5, .6) {0.55: 1}; [.6, .7) {0.62: 0};
    # [.9, 1] {0.95, 0.91: y 1, 1}
    by_hand = (abs(0 - 0.05) + abs(1 - 0.15) + abs(1 - 0.55) + abs(0 - 0.62) + abs(2 - 1.86)) / 6
    assert metrics.expected_calibration_error(y, p, n_bins=10) == pytest.approx(by_hand)
    # 2 bins: [0, .5) {0.05, 0.15: y 0, 1}; [.5, 1] {.55, .62, .95, .91: 1, 0, 1, 1}
    two = (abs(1 - 0.20) + abs(3 - 3.03)) / 6
    assert metrics.expected_calibration_error(y, p, n_bins=2) == pytest.approx(two)


def test_temperature_recovers_a_known_overconfidence():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20000, generator=g, dtype=torch.float64) * 1.5
    y = (torch.rand(20000, generator=g, dtype=torch.float64) < torch.sigmoid(z)).long()
    overconfident = torch.sigmoid(3 * z)  # logits three times too large
    t = calibration.fit_temperature(y, overconfident)
    assert t == pytest.approx(3.0, rel=0.05)
    before = metrics.expected_calibration_error(y, overconfident)
    after = metrics.expected_calibration_error(y, calibration.apply_temperature(overconfident, t))
    assert after < 0.02 < before
    # the ranking is untouched, so the AUC is too
    assert metrics.roc_auc(y, calibration.apply_temperature(overconfident, t)) == pytest.approx(
        metrics.roc_auc(y, overconfident)
    )


def test_temperature_minimises_the_nll_like_scipy():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.5 + (y - 0.5) * rng.uniform(0, 0.9, 300) + rng.normal(0, 0.2, 300), 0.01, 0.99)
    z = calibration._logits(torch.tensor(p))
    ref = optimize.minimize_scalar(
        lambda log_t: calibration.nll(y, z, np.exp(log_t)), bounds=(np.log(0.05), np.log(20)), method="bounded"
    )
    assert calibration.fit_temperature(y, p) == pytest.approx(np.exp(ref.x), rel=1e-3)


def test_cross_fitted_temperature_never_sees_its_own_fold():
    y = torch.tensor([0, 1] * 50)
    p = torch.where(y == 1, 0.9, 0.1).double()
    p[:10] = 0.5  # fold membership decides which T each statement gets
    out, temps = calibration.cross_fit_temperature(y, p, n_folds=5, seed=0)
    fold = torch.empty(100, dtype=torch.long)
    fold[torch.randperm(100, generator=torch.Generator().manual_seed(0))] = torch.arange(100) % 5
    for k, t in enumerate(temps):
        rest = fold != k
        assert t == pytest.approx(calibration.fit_temperature(y[rest], p[rest]))
        torch.testing.assert_close(out[fold == k], calibration.apply_temperature(p[fold == k], t))


def test_ece_interval_contains_the_value():
    y, a, _ = _scores(n=300)
    p = torch.sigmoid(torch.tensor(a))
    value, low, high = calibration.ece_interval(y, p, n_resamples=300)
    assert value == pytest.approx(metrics.expected_calibration_error(y, p))
    assert low < value < high


def test_resample_rows_are_seeded_and_refuse_fewer_than_two():
    idx = metrics.resample_rows(7, 5, seed=2)
    assert idx.shape == (5, 7) and int(idx.min()) >= 0 and int(idx.max()) < 7
    assert torch.equal(idx, metrics.resample_rows(7, 5, seed=2))
    with pytest.raises(ValueError, match="n_resamples"):
        metrics.resample_rows(7, 1)


def test_paired_ece_change_uses_the_same_resamples_and_a_no_change_is_exactly_zero():
    y, a, _ = _scores(n=300)
    p = torch.sigmoid(torch.tensor(a))
    assert calibration.ece_change_interval(y, p, p, n_resamples=200) == (0.0, 0.0, 0.0)
    q = calibration.apply_temperature(p, 2.0)
    change, low, high = calibration.ece_change_interval(y, p, q, n_resamples=500, seed=3)
    assert change == pytest.approx(metrics.expected_calibration_error(y, q) - metrics.expected_calibration_error(y, p))
    assert low < change < high
    # the same resampled rows for both: the paired differences, recomputed by hand
    idx = torch.randint(300, (500, 300), generator=torch.Generator().manual_seed(3))
    by_hand = [
        metrics.expected_calibration_error(y[i], q[i]) - metrics.expected_calibration_error(y[i], p[i]) for i in idx
    ]
    expected = torch.quantile(torch.tensor(by_hand, dtype=torch.float64), torch.tensor([0.025, 0.975]).double())
    assert (low, high) == pytest.approx(expected.tolist())
    with pytest.raises(ValueError, match="probs must lie in"):
        calibration.ece_change_interval(y, p, p + 2)


# ----------------------------------------------------------------------------- nested CV
class _MeanModel:
    """Predicts a shrunk mean label per first word: shrinkage α is the hyperparameter."""

    def __init__(self, table, prior):
        self.table, self.prior = table, prior

    def predict_proba(self, texts):
        return torch.tensor([self.table.get(t.split()[0], self.prior) for t in texts])


def _spy_fit(alpha, seen):
    def fit(texts, labels):
        seen.append(set(texts))
        prior = float(torch.as_tensor(labels).float().mean())
        sums = {}
        for t, y in zip(texts, torch.as_tensor(labels).tolist()):
            s, c = sums.get(t.split()[0], (0.0, 0))
            sums[t.split()[0]] = (s + y, c + 1)
        return _MeanModel({w: (s + alpha * prior) / (c + alpha) for w, (s, c) in sums.items()}, prior)

    return fit


def test_nested_cv_never_shows_an_outer_test_fold_to_selection_or_training():
    g = torch.Generator().manual_seed(0)
    words = [f"w{i}" for i in torch.randint(8, (120,), generator=g).tolist()]
    texts = [f"{w} item{i}" for i, w in enumerate(words)]  # every text distinct
    labels = (torch.tensor([int(w[1:]) for w in words]) % 2 == 0).long()
    labels = torch.where(torch.rand(120, generator=g) < 0.2, 1 - labels, labels)
    seen = []  # the training texts of every fit, in call order

    result = nested_cross_val(
        lambda s: _spy_fit(s["alpha"], seen), grid(alpha=(0.01, 1.0, 1000.0)), texts, labels, 4, 3
    )
    per_outer = 3 * 3 + 1  # 3 settings × 3 inner fits, then the refit of the chosen setting
    assert len(seen) == 4 * per_outer
    for k in range(4):
        test_texts = {texts[i] for i in (result.fold == k).nonzero().squeeze(1).tolist()}
        train_texts = set(texts) - test_texts
        calls = seen[k * per_outer : (k + 1) * per_outer]
        assert all(not fit_texts & test_texts for fit_texts in calls)
        assert calls[-1] == train_texts  # the refit sees the whole outer training fold
    # huge shrinkage predicts the prior (no signal), so the inner folds must never choose it
    assert all(c["alpha"] != 1000.0 for c in result.chosen)


def test_nested_cv_selection_matches_a_direct_inner_cv():
    words = [f"w{i % 6}" for i in range(90)]
    texts = [f"{w} n{i}" for i, w in enumerate(words)]
    labels = torch.tensor([int(w[1]) % 2 for w in words])
    settings = grid(alpha=(0.5, 5.0, 50.0))
    result = nested_cross_val(lambda s: _spy_fit(s["alpha"], []), settings, texts, labels, 3, 2, seed=4)
    for k in range(3):
        idx = (result.fold != k).nonzero().squeeze(1).tolist()
        x, y = [texts[i] for i in idx], labels[idx]
        losses = [log_loss(y, cross_val_probs(_spy_fit(s["alpha"], []), x, y, 2, 5)) for s in settings]
        assert result.inner_losses[k] == pytest.approx(tuple(losses))
        assert result.chosen[k] == settings[int(np.argmin(losses))]


def test_group_folds_keep_each_group_together():
    groups = [f"g{i % 7}" for i in range(50)]
    fold = fold_ids(50, 3, seed=1, groups=groups)
    for gname in set(groups):
        assert len({int(fold[i]) for i in range(50) if groups[i] == gname}) == 1
    assert set(fold.tolist()) == {0, 1, 2}


# ----------------------------------------------------------------------------- split by fact
_QUESTION = {re.escape(q).replace(r"\{e\}", "(?P<e>\\w+)"): a for a, q in QUESTIONS.items()}


def _fact_of(text):
    """(entity, attribute) read back from the question text alone."""
    question, answer = text.split(" | ")
    for pattern, attribute in _QUESTION.items():
        match = re.fullmatch(pattern, question)
        if match:
            value = answer.split()[-1]
            assert answer == ANSWERS[attribute].format(e=match["e"], v=value) and value in VALUES[attribute]
            return match["e"], attribute
    raise AssertionError(f"unparsable question {question!r}")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_test_fact_appears_in_training(seed):
    world, train, test = fact_split(n_train=500, n_test=200, test_fraction=0.25, seed=seed)
    train_facts = {_fact_of(t) for t in train.texts}
    test_facts = {_fact_of(t) for t in test.texts}
    assert not train_facts & test_facts
    assert not {t.split(" | ")[0] for t in train.texts} & {t.split(" | ")[0] for t in test.texts}
    assert len(test_facts) == round(0.25 * len(FACTS)) and len(train_facts | test_facts) == len(FACTS)
    assert [_fact_of(t) for t in test.texts] == list(test.facts)
    for (e, a), t, c in zip(test.facts, test.texts, test.clean_labels.tolist()):
        assert t.endswith(" " + (world.truth if c else world.myth)[e][a])  # the same world answers
    assert abs(test.labels.float().mean().item() - 0.5) < 0.01


def test_a_split_by_row_leaks_almost_every_test_text():
    _, pairs = truthfulqa_like(1000, seed=0)
    train, test = set(pairs.texts[:700]), pairs.texts[700:]
    assert len(set(pairs.texts)) == 2 * len(FACTS)
    assert sum(t in train for t in test) / len(test) > 0.95
