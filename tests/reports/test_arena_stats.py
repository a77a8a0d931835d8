"""Bradley-Terry, rater agreement and metric-human agreement against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_expit

from harness.contract.votes import Vote
from reports import arena_stats as st


def _vote(left, right, answer, *, rater="r", task="t0", seed=0):
    return Vote(rater=rater, time="2026-01-01T00:00:00Z", task_id=task, seed=seed, left=left, right=right,
                answer=answer)


def test_simulated_strengths_are_recovered_in_order():
    truth = {"a": 1200.0, "b": 1100.0, "c": 1000.0, "d": 800.0}
    with_ties = st.ratings(st.simulate_votes(truth, n=2000, seed=1, tie_rate=0.2), rounds=10)
    assert [r.pipeline for r in with_ties] == ["a", "b", "c", "d"]     # random ties shrink gaps, keep the order
    rated = st.ratings(st.simulate_votes(truth, n=2000, seed=1), rounds=30)
    assert [r.pipeline for r in rated] == ["a", "b", "c", "d"]
    # gaps, not levels, are identified: compare centred ratings
    got = {r.pipeline: r.rating for r in rated}
    centre = np.mean(list(truth.values()))
    for p, t in truth.items():
        assert abs(got[p] - (t - centre + st.INITIAL)) < 40
        r = next(x for x in rated if x.pipeline == p)
        assert r.lo <= got[p] <= r.hi and r.hi - r.lo < 120


def _independent_fit(votes, pipelines, ridge):
    """The same model written as pairwise win counts and minimised by scipy's BFGS."""
    idx = {p: i for i, p in enumerate(pipelines)}
    wins = np.zeros((len(pipelines), len(pipelines)))
    for v in votes:
        a, b = idx[v.left], idx[v.right]
        if v.answer == "left":
            wins[a, b] += 1
        elif v.answer == "right":
            wins[b, a] += 1
        else:
            wins[a, b] += 0.5
            wins[b, a] += 0.5

    def nll(beta):
        d = math.log(10) * (beta[:, None] - beta[None, :])
        return -(wins * log_expit(d)).sum() + ridge / 2 * (beta ** 2).sum()

    beta = minimize(nll, np.zeros(len(pipelines)), method="BFGS", options={"gtol": 1e-10}).x
    return 1000 + 400 * (beta - beta.mean())


@pytest.mark.parametrize("ridge", [st.RIDGE, 0.0])
def test_fit_equals_an_independent_logistic_regression(ridge):
    truth = {"a": 1100.0, "b": 1000.0, "c": 950.0}
    votes = st.simulate_votes(truth, n=300, seed=3, tie_rate=0.2)
    pipelines = ["a", "b", "c"]
    np.testing.assert_allclose(st.bt_ratings(votes, pipelines, ridge=ridge), _independent_fit(votes, pipelines, ridge),
                               atol=1e-3)


def test_gap_of_400_points_means_ten_to_one_odds():
    votes = [_vote("a", "b", "left")] * 100 + [_vote("a", "b", "right")] * 10
    r = st.bt_ratings(votes, ["a", "b"], ridge=0.0)
    assert r[0] - r[1] == pytest.approx(400, abs=1e-6) and r.mean() == pytest.approx(1000)


def test_ties_are_half_a_win_and_a_clean_sweep_stays_finite():
    assert np.allclose(st.bt_ratings([_vote("a", "b", "tie")] * 5, ["a", "b"]), 1000)
    swept = st.bt_ratings([_vote("a", "b", "left")] * 20, ["a", "b"])
    assert np.isfinite(swept).all() and swept[0] > swept[1] + 400


def test_both_bad_rate_and_counts():
    votes = [_vote("a", "b", "both_bad"), _vote("a", "c", "left"), _vote("b", "c", "both_bad"), _vote("c", "a", "tie")]
    by = {r.pipeline: r for r in st.ratings(votes, rounds=5)}
    assert by["a"].both_bad_rate == pytest.approx(1 / 3) and by["b"].both_bad_rate == 1.0
    assert (by["a"].wins, by["a"].losses, by["a"].ties, by["c"].losses) == (1, 0, 1, 1)


def test_cohen_kappa_wikipedia_example():
    # 50 items: both yes 20, A yes B no 5, A no B yes 10, both no 15 -> kappa 0.4
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert st.cohen_kappa(a, b, labels=["y", "n"]) == pytest.approx(0.4)


def test_fleiss_kappa_wikipedia_example():
    m = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
         [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    assert st.fleiss_kappa(np.array(m)) == pytest.approx(0.210, abs=5e-4)


def test_krippendorff_alpha_matches_the_reference_package():
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(0)
    data = rng.integers(0, 4, (3, 40)).astype(float)
    data[:, :20] = data[0, :20]            # some agreement
    data[rng.random(data.shape) < 0.2] = np.nan
    units = [[str(int(x)) for x in col if np.isfinite(x)] for col in data.T]
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert st.krippendorff_alpha_nominal(units) == pytest.approx(ref, abs=1e-9)


def test_rater_agreement_is_blind_to_shown_order():
    # the two raters saw the pair in opposite orders but agree on every item
    v1 = [_vote("a", "b", "left", rater="x", task=f"t{i}") for i in range(6)]
    v2 = [_vote("b", "a", "right", rater="y", task=f"t{i}") for i in range(6)]
    v1 += [_vote("a", "b", "tie", rater="x", task="u"), _vote("a", "b", "right", rater="x", task="w")]
    v2 += [_vote("a", "b", "tie", rater="y", task="u"), _vote("b", "a", "left", rater="y", task="w")]
    ag = st.rater_agreement(v1 + v2)
    assert ag.n_items == 8 and ag.cohen[("x", "y")] == (pytest.approx(1.0), 8)
    assert ag.fleiss == pytest.approx(1.0) and ag.alpha == pytest.approx(1.0)
    assert math.isnan(st.rater_agreement(v1).fleiss)     # one rater: nothing to agree on


def test_the_votes_own_rule_agrees_fully_and_a_random_metric_at_chance():
    rng = np.random.default_rng(0)
    quality = {(f"t{i}", p): rng.random() for i in range(200) for p in "abc"}
    votes = []
    for i in range(200):
        left, right = rng.choice(list("abc"), 2, replace=False)
        votes.append(_vote(left, right, "left" if quality[(f"t{i}", left)] > quality[(f"t{i}", right)] else "right",
                           task=f"t{i}"))
    rule = st.pairwise_accuracy(votes, lambda t, s, p: quality[(t, p)], higher_is_better=True)
    assert rule[0] == 1.0 and rule[3] == 200
    inverted = st.pairwise_accuracy(votes, lambda t, s, p: -quality[(t, p)], higher_is_better=False)
    assert inverted[0] == 1.0
    noise = {k: rng.random() for k in quality}
    acc, lo, hi, n = st.pairwise_accuracy(votes, lambda t, s, p: noise[(t, p)], higher_is_better=True)
    assert 0.4 < acc < 0.6 and lo < 0.5 < hi


def test_kendall_tau_of_pipeline_means_against_ratings():
    rated = st.ratings(st.simulate_votes({"a": 1300.0, "b": 1000.0, "c": 700.0}, n=600, seed=2), rounds=5)
    same = st.metric_agreement([], rated, "m", lambda *a: math.nan, {"a": 3.0, "b": 2.0, "c": 1.0},
                               higher_is_better=True)
    flipped = st.metric_agreement([], rated, "m", lambda *a: math.nan, {"a": 3.0, "b": 2.0, "c": 1.0},
                                  higher_is_better=False)
    assert same.tau == pytest.approx(1.0) and flipped.tau == pytest.approx(-1.0) and same.n_pipelines == 3
    assert same.n_votes == 0 and math.isnan(same.accuracy)
