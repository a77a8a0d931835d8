import numpy as np
import pytest

from reports.gate import verdict
from reports.stats import Difference, difference_ci, t_interval, task_mean_ci


def test_task_mean_weights_tasks_equally_and_is_reproducible():
    groups = [np.array([1.0, 1.0, 1.0, 1.0]), np.array([3.0])]     # 4 seeds vs 1 seed
    a = task_mean_ci(groups)
    assert a.mean == pytest.approx(2.0)                             # task mean, not the row mean 1.4
    assert (a.n_tasks, a.n_rows) == (2, 5)
    assert a == task_mean_ci(groups)                                # fixed RNG seed: same CI every time
    assert a.lo <= a.mean <= a.hi


def test_nan_values_are_dropped():
    e = task_mean_ci([np.array([1.0, np.nan]), np.array([np.nan])])
    assert e.mean == 1.0 and e.n_tasks == 1 and e.n_rows == 1


def test_ci_coverage_of_a_known_mean():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(100):
        task_means = rng.normal(0.0, 1.0, 30)
        groups = [m + rng.normal(0, 0.5, 3) for m in task_means]
        e = task_mean_ci(groups)
        hits += e.lo <= 0.0 <= e.hi
    assert hits >= 90        # nominal 95 %


def test_t_interval_rejects_bad_confidence():
    with pytest.raises(ValueError):
        t_interval(0.0, 1.0, 5, 1.5)


def test_paired_difference_of_identical_runs_is_exactly_zero():
    base = {f"t{i}": {0: float(i), 1: i + 0.5} for i in range(5)}
    d = difference_ci(base, base)
    assert d.paired and (d.diff, d.lo, d.hi) == (0.0, 0.0, 0.0)


def test_shift_is_detected_paired_and_unpaired():
    rng = np.random.default_rng(0)
    base = {f"t{i}": {s: float(rng.normal(i, 0.1)) for s in range(3)} for i in range(8)}
    cand = {t: {s: v + 0.5 for s, v in d.items()} for t, d in base.items()}
    d = difference_ci(base, cand)
    assert d.paired and d.diff == pytest.approx(0.5) and d.lo == pytest.approx(0.5) and d.hi == pytest.approx(0.5)
    fresh = {t: {s + 10: float(rng.normal(i, 0.1)) + 0.5 for s in range(3)} for i, t in enumerate(base)}
    u = difference_ci(base, fresh)
    assert not u.paired and 0.3 < u.lo < 0.5 < u.hi < 0.7


def _d(lo, hi):
    return Difference(0.0, 0.0, (lo + hi) / 2, lo, hi, 5, 10, True)


@pytest.mark.parametrize("lo,hi,direction,tol,expected", [
    (0.1, 0.3, "lower", 0.0, "regressed"),      # lower is better, the CI is all above 0
    (0.1, 0.3, "lower", 0.2, "no change"),      # ... but not all beyond the tolerance
    (0.1, 0.3, "higher", 0.0, "improved"),
    (-0.3, -0.1, "higher", 0.05, "regressed"),
    (-0.3, -0.1, "lower", 0.05, "improved"),
    (-0.1, 0.2, "lower", 0.0, "no change"),
])
def test_verdict_needs_the_whole_ci_beyond_the_tolerance(lo, hi, direction, tol, expected):
    assert verdict(_d(lo, hi), direction, tol) == expected


def test_difference_is_the_paired_t_test_on_task_means():
    """Seeds are averaged within tasks, then the task differences give scipy's one-sample t interval."""
    from scipy import stats

    rng = np.random.default_rng(3)
    base = {f"t{i}": {s: float(rng.normal(i, 1.0)) for s in range(3)} for i in range(6)}
    cand = {t: {s: v + float(rng.normal(0.2, 1.0)) for s, v in d.items()} for t, d in base.items()}
    d = difference_ci(base, cand, confidence=0.9)
    per_task = np.array([np.mean([cand[t][s] - base[t][s] for s in range(3)]) for t in sorted(base)])
    ref = stats.ttest_1samp(per_task, 0.0).confidence_interval(0.9)
    assert (d.lo, d.hi) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert d.df == 5 and d.n_tasks == 6 and d.n_pairs == 18 and d.paired
    # the same task means from more seeds give the same interval: seed noise is not counted again
    more = {t: {s: v for s, v in enumerate([*base[t].values()] * 2)} for t in base}
    more_c = {t: {s: v for s, v in enumerate([*cand[t].values()] * 2)} for t in cand}
    d2 = difference_ci(more, more_c, confidence=0.9)
    assert (d2.lo, d2.hi) == pytest.approx((d.lo, d.hi), rel=1e-12)


def test_one_seed_per_task_uses_tasks_as_units_and_one_task_uses_seeds():
    from scipy import stats

    base = {"a": {0: 1.0}, "b": {0: 2.0}, "c": {0: 4.0}}
    cand = {"a": {0: 1.5}, "b": {0: 2.1}, "c": {0: 4.6}}
    d = difference_ci(base, cand)
    ref = stats.ttest_1samp([0.5, 0.1, 0.6], 0.0).confidence_interval(0.95)
    assert (d.lo, d.hi) == pytest.approx((ref.low, ref.high)) and d.df == 2
    one = difference_ci({"a": {0: 1.0, 1: 2.0, 2: 3.0}}, {"a": {0: 1.5, 1: 2.0, 2: 3.7}})
    assert one.df == 2 and one.n_tasks == 1
    assert np.isnan(difference_ci({"a": {0: 1.0}}, {"a": {0: 2.0}}).lo)      # one value: no interval


def test_holm_matches_the_step_down_definition():
    from reports.stats import holm, holm_adjusted

    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted 0.005, 0.01, 0.03, 0.04 against 0.05/4, 0.05/3, 0.05/2, 0.05/1: first two rejected, then stop
    assert holm(p, 0.05).tolist() == [True, False, False, True, False]
    adj = holm_adjusted(p)
    assert adj[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and np.isnan(adj[4])
    assert ((adj < 0.05) == holm(p, 0.05)).all()
    batch = np.random.default_rng(0).random((200, 7)) ** 3
    assert (holm(batch, 0.05) == np.array([holm_adjusted(r) < 0.05 for r in batch])).all()


def test_one_sided_p_against_the_tolerance():
    from scipy import stats

    from reports.stats import one_sided_p

    assert one_sided_p(0.3, 0.1, 9, 0.1) == pytest.approx(stats.t.sf(2.0, 9))
    assert one_sided_p(0.3, 0.0, 9, 0.1) == 0.0 and one_sided_p(0.05, 0.0, 9, 0.1) == 1.0
    assert np.isnan(one_sided_p(0.3, np.nan, 0, 0.0))


@pytest.mark.parametrize("b_seeds,c_seeds,n_tasks", [([0, 1, 2], [0, 1, 2], 30), ([0, 1], [2, 3], 10),
                                                      ([0, 1, 2], [1, 2], 1), ([0], [1], 1), ([0], [0], 25),
                                                      ([0, 1], [1, 5], 40)])
def test_row_array_statistics_equal_the_per_task_ones(b_seeds, c_seeds, n_tasks):
    """The vectorised forms used at scale give the same numbers as the per-task reference forms,
    NaN/inf rows, unpaired tasks and the single-task case included."""
    import pandas as pd

    from reports.stats import difference_ci, difference_ci_rows, task_mean_ci, task_mean_ci_rows

    rng = np.random.default_rng(n_tasks)

    def frame(seeds):
        df = pd.DataFrame([(f"t{t}", s, rng.normal()) for t in range(n_tasks) for s in seeds],
                          columns=["task_id", "seed", "value"])
        df.loc[rng.random(len(df)) < 0.1, "value"] = np.nan
        df.loc[rng.random(len(df)) < 0.03, "value"] = np.inf
        return df

    def as_dict(df):
        out: dict = {}
        for t, s, v in df.itertuples(index=False):
            out.setdefault(t, {})[int(s)] = float(v)
        return out

    b, c = frame(b_seeds), frame(c_seeds)
    x, y = difference_ci(as_dict(b), as_dict(c)), difference_ci_rows(b, c)
    for k in ("baseline", "candidate", "diff", "lo", "hi", "se"):
        assert np.isclose(getattr(x, k), getattr(y, k), equal_nan=True, rtol=1e-12), k
    assert (x.n_tasks, x.n_pairs, x.paired, x.df) == (y.n_tasks, y.n_pairs, y.paired, y.df)
    groups = [g["value"].to_numpy() for _, g in b.groupby("task_id")]
    e, f = task_mean_ci(groups), task_mean_ci_rows(b["task_id"].to_numpy(), b["value"].to_numpy())
    assert np.allclose([e.mean, e.lo, e.hi], [f.mean, f.lo, f.hi], rtol=1e-12, equal_nan=True)
    assert (e.n_tasks, e.n_rows) == (f.n_tasks, f.n_rows)
