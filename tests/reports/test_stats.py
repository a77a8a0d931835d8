import numpy as np
import pytest

from reports.gate import verdict
from reports.stats import Difference, difference_ci, percentile_interval, task_mean_ci


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
    for i in range(100):
        task_means = rng.normal(0.0, 1.0, 30)
        groups = [m + rng.normal(0, 0.5, 3) for m in task_means]
        e = task_mean_ci(groups, n_boot=500, seed=i)
        hits += e.lo <= 0.0 <= e.hi
    assert hits >= 90        # nominal 95 %; the nested bootstrap errs on the wide side


def test_percentile_interval_rejects_bad_confidence():
    with pytest.raises(ValueError):
        percentile_interval(np.arange(10.0), 1.5)


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
