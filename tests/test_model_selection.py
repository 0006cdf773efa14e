"""Tests of brainenc.model_selection: BlockedKFold and check_run_cv."""

import itertools

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_array_equal
from sklearn.linear_model import Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    LeaveOneGroupOut,
    check_cv,
    cross_val_score,
)

from brainenc.metrics import correlation_score, correlation_scorer
from brainenc.model_selection import BlockedKFold, check_run_cv


def _folds(cv, n_samples, groups=None):
    return [
        (train.tolist(), test.tolist())
        for train, test in cv.split(np.zeros((n_samples, 1)), None, groups)
    ]


def _runs(lengths):
    return np.repeat(np.arange(len(lengths)), lengths)


def _check_partition(folds, n_samples):
    """Each fold: disjoint sorted train/test, contiguous test; tests tile all."""
    tested = []
    for train, test in folds:
        train, test = np.asarray(train), np.asarray(test)
        assert np.intersect1d(train, test).size == 0
        assert np.all(np.diff(train) > 0)
        assert_array_equal(test, np.arange(test[0], test[-1] + 1))
        tested.append(test)
    assert_array_equal(np.concatenate(tested), np.arange(n_samples))


# ------------------------------------------------------------- BlockedKFold


def test_blocked_kfold_without_groups_hand_example():
    assert _folds(BlockedKFold(3), 10) == [
        ([4, 5, 6, 7, 8, 9], [0, 1, 2, 3]),
        ([0, 1, 2, 3, 7, 8, 9], [4, 5, 6]),
        ([0, 1, 2, 3, 4, 5, 6], [7, 8, 9]),
    ]


@pytest.mark.parametrize(
    ("n_samples", "n_splits"), [(10, 2), (17, 5), (5, 5), (100, 7)]
)
def test_blocked_kfold_equals_unshuffled_kfold(n_samples, n_splits):
    assert _folds(BlockedKFold(n_splits), n_samples) == _folds(
        KFold(n_splits), n_samples
    )


def test_blocked_kfold_gap_hand_example():
    # Test blocks [0..3], [4..6], [7..9]; a gap of 2 drops the two training
    # samples on each side of every test block.
    assert _folds(BlockedKFold(3, gap=2), 10) == [
        ([6, 7, 8, 9], [0, 1, 2, 3]),
        ([0, 1, 9], [4, 5, 6]),
        ([0, 1, 2, 3, 4], [7, 8, 9]),
    ]


def test_blocked_kfold_gap_drops_exactly_the_samples_near_the_test_block():
    n_samples, gap = 50, 4
    for train, test in BlockedKFold(5, gap=gap).split(np.zeros((n_samples, 1))):
        distance = np.abs(np.arange(n_samples)[:, None] - test[None, :]).min(axis=1)
        expected = np.flatnonzero(distance > gap)
        assert_array_equal(train, expected)


def test_blocked_kfold_with_groups_hand_example():
    # Runs of 5, 20, 5 and 10 samples. Two folds: cutting after run 1 gives
    # sizes (25, 15), the most balanced of (5, 35), (25, 15), (30, 10).
    groups = _runs([5, 20, 5, 10])
    assert [test for _, test in _folds(BlockedKFold(2), 40, groups)] == [
        list(range(25)),
        list(range(25, 40)),
    ]
    # Three folds: (5, 20, 15) beats (5, 25, 10) and (25, 5, 10).
    folds = _folds(BlockedKFold(3), 40, groups)
    assert [test for _, test in folds] == [
        list(range(5)),
        list(range(5, 25)),
        list(range(25, 40)),
    ]
    assert folds[1][0] == list(range(5)) + list(range(25, 40))


def test_blocked_kfold_with_groups_accepts_string_labels():
    groups = np.array(["a"] * 3 + ["b"] * 3 + ["c"] * 4)
    assert [test for _, test in _folds(BlockedKFold(3), 10, groups)] == [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7, 8, 9],
    ]


@pytest.mark.parametrize("seed", range(8))
def test_blocked_kfold_with_groups_is_most_balanced(seed):
    # Brute force over every way to cut the runs into contiguous folds.
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 30, size=rng.integers(3, 9))
    n_splits = int(rng.integers(2, len(lengths) + 1))
    groups = _runs(lengths)
    n_samples = len(groups)
    folds = _folds(BlockedKFold(n_splits), n_samples, groups)
    _check_partition(folds, n_samples)
    sizes = np.array([len(test) for _, test in folds])
    cum = np.concatenate([[0], np.cumsum(lengths)])
    best = min(
        np.sum(np.diff(cum[[0, *cuts, len(lengths)]]) ** 2)
        for cuts in itertools.combinations(range(1, len(lengths)), n_splits - 1)
    )
    assert np.sum(sizes**2) == best
    # Test blocks are whole runs: their edges are run boundaries.
    for _, test in folds:
        assert test[0] in cum
        assert test[-1] + 1 in cum


def test_blocked_kfold_gap_does_not_cross_runs():
    # Folds are whole runs, so no training sample shares a run with a test
    # sample: even a large gap drops nothing, although the last sample of the
    # previous run lies right next to the test block.
    groups = _runs([6, 6, 6, 6])
    with_gap = _folds(BlockedKFold(4, gap=5), 24, groups)
    assert with_gap == _folds(BlockedKFold(4), 24, groups)
    for train, test in with_gap:
        assert sorted(train + test) == list(range(24))


@pytest.mark.parametrize(
    ("n_samples", "n_splits", "gap", "lengths"),
    [(23, 4, 0, None), (23, 4, 3, None), (60, 3, 2, [10, 15, 5, 20, 10])],
)
def test_blocked_kfold_partition_properties(n_samples, n_splits, gap, lengths):
    groups = None if lengths is None else _runs(lengths)
    folds = _folds(BlockedKFold(n_splits, gap=gap), n_samples, groups)
    assert len(folds) == n_splits
    _check_partition(folds, n_samples)


def test_blocked_kfold_get_n_splits_repr_and_check_cv():
    cv = BlockedKFold(4, gap=2)
    assert cv.get_n_splits() == 4
    assert repr(cv) == "BlockedKFold(gap=2, n_splits=4)"
    assert check_cv(cv) is cv
    assert BlockedKFold().n_splits == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_splits": 1}, ValueError, "n_splits must be an int >= 2, got 1"),
        ({"n_splits": 2.0}, TypeError, "n_splits must be an int >= 2, got float 2.0"),
        ({"n_splits": True}, TypeError, "n_splits must be an int >= 2, got bool"),
        ({"gap": -1}, ValueError, "gap must be an int >= 0, got -1"),
        ({"gap": 0.5}, TypeError, "gap must be an int >= 0, got float"),
    ],
)
def test_blocked_kfold_invalid_parameters(kwargs, error, match):
    # A value of the wrong type is a TypeError, a value out of range a
    # ValueError (one rule, brainenc._validation.check_int).
    with pytest.raises(error, match=match):
        BlockedKFold(**kwargs)


def test_blocked_kfold_errors_at_split():
    with pytest.raises(ValueError, match="n_splits=4 .* number of runs in groups: 3"):
        _folds(BlockedKFold(4), 9, _runs([3, 3, 3]))
    with pytest.raises(ValueError, match="n_splits=6 .* n_samples=5"):
        _folds(BlockedKFold(6), 5)
    with pytest.raises(ValueError, match="gap=5 leaves fold 0 without training"):
        _folds(BlockedKFold(2, gap=5), 10)
    with pytest.raises(ValueError, match="groups must hold contiguous runs"):
        _folds(BlockedKFold(2), 6, [0, 0, 1, 1, 0, 0])
    with pytest.raises(ValueError, match="X has 6 samples but groups has 5"):
        _folds(BlockedKFold(2), 6, [0, 0, 1, 1, 1])


def _regression(n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 5))
    y = X @ rng.standard_normal((5, 3)) + rng.standard_normal((n_samples, 3))
    return X, y


def _manual_scores(X, y, folds, alpha=1.0):
    scores = []
    for train, test in folds:
        model = Ridge(alpha=alpha).fit(X[train], y[train])
        scores.append(correlation_score(y[test], model.predict(X[test])))
    return np.array(scores)


def test_blocked_kfold_in_cross_val_score_with_groups():
    X, y = _regression()
    groups = _runs([10, 25, 10, 15])
    scores = cross_val_score(
        Ridge(), X, y, cv=BlockedKFold(3), groups=groups, scoring=correlation_scorer
    )
    # Hand-derived folds: run sizes 10, 25, 10, 15 -> (10 | 25 | 25) is the
    # most balanced cut into three folds.
    tests = [np.arange(0, 10), np.arange(10, 35), np.arange(35, 60)]
    folds = [(np.setdiff1d(np.arange(60), t), t) for t in tests]
    np.testing.assert_allclose(scores, _manual_scores(X, y, folds), rtol=1e-12)


@pytest.mark.parametrize("routing", [False, True])
def test_blocked_kfold_in_grid_search_receives_groups(routing):
    X, y = _regression(seed=1)
    groups = _runs([20, 20, 20])
    folds = list(BlockedKFold(3).split(X, y, groups))
    with sklearn.config_context(enable_metadata_routing=routing):
        search = GridSearchCV(
            Ridge(),
            {"alpha": [0.1, 100.0]},
            cv=BlockedKFold(3, gap=2),
            scoring=correlation_scorer,
        ).fit(X, y, groups=groups)
    # With whole runs the gap drops nothing: folds are the runs themselves.
    for k, alpha in enumerate([0.1, 100.0]):
        manual = _manual_scores(X, y, folds, alpha=alpha)
        scores = [search.cv_results_[f"split{i}_test_score"][k] for i in range(3)]
        np.testing.assert_allclose(scores, manual, rtol=1e-12)


# ------------------------------------------------------------- check_run_cv


@pytest.mark.parametrize("lengths", [[5, 7, 3, 9, 4], [10, 10, 10, 10], [2, 30, 3]])
def test_check_run_cv_int_with_groups_equals_group_kfold(lengths):
    groups = _runs(lengths)
    n_splits = 3
    folds = check_run_cv(n_splits, groups=groups)
    expected = list(
        GroupKFold(n_splits).split(np.zeros((len(groups), 1)), None, groups)
    )
    assert len(folds) == len(expected)
    for (train, test), (train_ref, test_ref) in zip(folds, expected, strict=True):
        assert_array_equal(train, train_ref)
        assert_array_equal(test, test_ref)
        # Whole runs are held out.
        assert np.intersect1d(groups[train], groups[test]).size == 0


def test_check_run_cv_int_without_groups_is_blocked():
    folds = check_run_cv(3, n_samples=10)
    assert [(tr.tolist(), te.tolist()) for tr, te in folds] == _folds(
        BlockedKFold(3), 10
    )
    assert all(tr.dtype == np.intp and te.dtype == np.intp for tr, te in folds)


def test_check_run_cv_none_means_five_blocks():
    folds = check_run_cv(None, n_samples=12)
    assert [te.tolist() for _, te in folds] == [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7],
        [8, 9],
        [10, 11],
    ]


def test_check_run_cv_splitter_receives_groups():
    groups = _runs([3, 4, 5])
    folds = check_run_cv(LeaveOneGroupOut(), groups=groups)
    assert [te.tolist() for _, te in folds] == [
        [0, 1, 2],
        [3, 4, 5, 6],
        [7, 8, 9, 10, 11],
    ]
    folds = check_run_cv(KFold(2), n_samples=4)
    assert [(tr.tolist(), te.tolist()) for tr, te in folds] == [
        ([2, 3], [0, 1]),
        ([0, 1], [2, 3]),
    ]


def test_check_run_cv_group_splitter_without_groups_names_groups():
    with pytest.raises(ValueError, match="groups"):
        check_run_cv(GroupKFold(2), n_samples=10)


def test_check_run_cv_iterable_taken_as_given():
    given = [([0, 1, 2], [3, 4]), (np.array([3, 4]), np.array([0, 1]))]
    folds = check_run_cv(given, n_samples=5)
    assert [(tr.tolist(), te.tolist()) for tr, te in folds] == [
        ([0, 1, 2], [3, 4]),
        ([3, 4], [0, 1]),
    ]
    # A generator works too, and boolean masks become indices.
    mask = np.array([True, True, False, False, False])
    folds = check_run_cv(((~m, m) for m in [mask]), n_samples=5)
    assert folds[0][0].tolist() == [2, 3, 4]
    assert folds[0][1].tolist() == [0, 1]


@pytest.mark.parametrize(
    ("cv", "kwargs", "match"),
    [
        (
            4,
            {"groups": _runs([3, 3, 3])},
            "cv=4 folds of whole runs .* groups holds 3 runs",
        ),
        (1, {"n_samples": 10}, "cv must be an int >= 2, got 1"),
        (6, {"n_samples": 5}, "cv=6 folds need at least 6 samples"),
        (3, {}, "n_samples .* is needed"),
        (KFold(2), {}, "n_samples .* is needed"),
        ([([0, 1], [])], {"n_samples": 4}, "cv gives fold 0 an empty test set"),
        ([([2, 3], [0]), ([], [1])], {"n_samples": 4}, "fold 1 an empty training"),
        ([([0, 1], [2, 9])], {"n_samples": 4}, r"fold 0 test indices out of range"),
        ([([-1, 1], [2])], {"n_samples": 4}, "fold 0 training indices out of range"),
        ([([0, 1, 2], [2, 3])], {"n_samples": 4}, "both in its training and its test"),
        ([([0.5, 1], [2])], {"n_samples": 4}, "not a 1-D array of integers"),
        ([[0, 1, 2]], {"n_samples": 4}, "cv must yield .train, test. pairs"),
        ([], {"n_samples": 4}, "cv gives no fold"),
        ([(np.ones(3, bool), np.ones(4, bool))], {"n_samples": 4}, "boolean training"),
        (True, {"n_samples": 4}, "cv must be an int, a cross-validation splitter"),
        ("blocked", {"n_samples": 4}, "cv must be an int, a cross-validation splitter"),
        (3, {"n_samples": 0}, "n_samples must be an int >= 1"),
    ],
)
def test_check_run_cv_errors(cv, kwargs, match):
    error = TypeError if isinstance(cv, (bool, str)) else ValueError
    with pytest.raises(error, match=match):
        check_run_cv(cv, **kwargs)


def test_check_run_cv_validates_groups():
    with pytest.raises(ValueError, match="groups must hold contiguous runs"):
        check_run_cv(2, groups=[0, 1, 0, 1])
    with pytest.raises(ValueError, match="X has 5 samples but groups has 4"):
        check_run_cv(2, groups=[0, 0, 1, 1], n_samples=5)
