"""Run-aware cross-validation for time series of runs.

Samples of an encoding experiment are autocorrelated in time, so a shuffled split
leaks the test set into the training set. :class:`BlockedKFold` holds out
contiguous blocks in time order (whole runs when ``groups`` are given), and
:func:`check_run_cv` turns the library-wide ``cv`` argument into explicit folds.
"""

import numbers
import warnings
from collections.abc import Iterable

import numpy as np
from sklearn.model_selection import BaseCrossValidator, GroupKFold
from sklearn.utils import indexable

from ._validation import check_groups, check_int, run_starts, user_stacklevel

__all__ = ["BlockedKFold", "check_run_cv"]


class BlockedKFold(BaseCrossValidator):
    """K-fold cross-validation with contiguous, unshuffled blocks of time.

    Each fold holds out one contiguous block of samples, in time order, and
    trains on the rest. Without ``groups`` the blocks have near-equal sizes (as
    :class:`~sklearn.model_selection.KFold` without shuffling). With ``groups``
    (run labels), every block is made of whole consecutive runs, the fold
    boundaries being placed on run boundaries so that the fold sizes, in
    samples, are as balanced as possible (the sum of squared fold sizes is
    minimised).

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds. Must be at least 2.
    gap : int, default=0
        Autocorrelation buffer, in samples: training samples that lie within
        ``gap`` samples of a test sample of the same run are dropped from the
        training set. When the folds are whole runs (with ``groups``), no
        training sample shares a run with a test sample and nothing is dropped.

    See Also
    --------
    check_run_cv : Folds from the library-wide ``cv`` argument.
    sklearn.model_selection.KFold : K-fold cross-validation.
    sklearn.model_selection.TimeSeriesSplit : Forward-chaining splits.

    Notes
    -----
    ``split`` requests ``groups`` under scikit-learn's metadata routing, so
    ``GridSearchCV(..., cv=BlockedKFold()).fit(X, y, groups=groups)`` routes the
    run labels to the splitter.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.model_selection import BlockedKFold
    >>> X = np.zeros((7, 2))
    >>> for train, test in BlockedKFold(n_splits=3, gap=1).split(X):
    ...     print(train, test)
    [4 5 6] [0 1 2]
    [0 1 6] [3 4]
    [0 1 2 3] [5 6]

    With run labels, folds are whole runs:

    >>> groups = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    >>> for train, test in BlockedKFold(n_splits=2).split(X=np.zeros((9, 1)),
    ...                                                  groups=groups):
    ...     print(train, test)
    [5 6 7 8] [0 1 2 3 4]
    [0 1 2 3 4] [5 6 7 8]
    """

    # Ask for ``groups`` under metadata routing, as scikit-learn's group-aware
    # splitters do (the name is mangled; scikit-learn looks it up by substring).
    __metadata_request__split = {"groups": True}

    def __init__(self, n_splits=5, *, gap=0):
        self.n_splits = check_int(n_splits, "n_splits", minimum=2)
        self.gap = check_int(gap, "gap", minimum=0)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds.

        Parameters
        ----------
        X : object
            Ignored, present for API compatibility.
        y : object
            Ignored, present for API compatibility.
        groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            The number of folds.
        """
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Generate the indices of the training and test set of every fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data; only its number of samples is used.
        y : array-like of shape (n_samples,), default=None
            Ignored, present for API compatibility.
        groups : array-like of shape (n_samples,), default=None
            Run label of every sample; the samples of a run are contiguous.
            When given, test blocks are made of whole runs.

        Yields
        ------
        train : ndarray of shape (n_train,)
            Indices of the training samples of the fold, sorted.
        test : ndarray of shape (n_test,)
            Indices of the test samples of the fold, a contiguous range.

        Raises
        ------
        ValueError
            If there are fewer samples (or runs) than ``n_splits``, ``groups``
            is invalid, or ``gap`` leaves a training set empty.
        """
        X, y = indexable(X, y)
        n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
        if groups is None:
            bounds = _even_bounds(n_samples, self.n_splits)
            starts = np.array([0], dtype=np.intp)
        else:
            groups = check_groups(groups, n_samples)
            starts = run_starts(groups)
            bounds = _balanced_run_bounds(starts, n_samples, self.n_splits)
        run_stops = np.append(starts[1:], n_samples)
        indices = np.arange(n_samples, dtype=np.intp)
        for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            keep = np.ones(n_samples, dtype=bool)
            keep[lo:hi] = False
            if self.gap:
                # The runs holding the first and the last test samples bound
                # the buffer: it never reaches into a neighbouring run.
                first_run_start = starts[np.searchsorted(starts, lo, "right") - 1]
                last_run_stop = run_stops[np.searchsorted(starts, hi - 1, "right") - 1]
                keep[max(lo - self.gap, first_run_start) : lo] = False
                keep[hi : min(hi + self.gap, last_run_stop)] = False
            train = indices[keep]
            if train.size == 0:
                raise ValueError(
                    f"gap={self.gap} leaves fold {k} without training samples "
                    f"(its test block has {hi - lo} of {n_samples} samples). "
                    "Use a smaller gap or more folds."
                )
            yield train, indices[lo:hi]


def check_run_cv(cv, groups=None, n_samples=None):
    """Turn the library-wide ``cv`` argument into explicit folds.

    Parameters
    ----------
    cv : int, cross-validation splitter, iterable of (train, test) or None
        - int: that many folds. With ``groups``, folds of whole runs
          (:class:`~sklearn.model_selection.GroupKFold`); without, contiguous
          unshuffled blocks (:class:`BlockedKFold`).
        - a splitter (an object with a ``split`` method): its
          ``split(X, None, groups)`` on a placeholder ``X`` of ``n_samples``
          rows.
        - an iterable of (train, test) index arrays (or boolean masks of
          length ``n_samples``): taken as given.
        - None: 5 folds, as scikit-learn's default.
    groups : array-like of shape (n_samples,), default=None
        Run label of every sample; the samples of a run are contiguous.
    n_samples : int, default=None
        Number of samples. May be left out when ``groups`` is given (its
        length is used); needed otherwise, except for an iterable of folds,
        whose indices are then not checked against an upper bound.

    Returns
    -------
    folds : list of (ndarray, ndarray)
        The (train, test) integer index arrays of every fold.

    Raises
    ------
    ValueError
        If an int ``cv`` is below 2 or above the number of runs (or samples),
        a fold has an empty training or test set, indices out of range or
        indices shared by its training and test sets, ``groups`` is invalid,
        or ``n_samples`` is missing where it is needed.
    TypeError
        If ``cv`` is of none of the accepted kinds.

    See Also
    --------
    BlockedKFold : Contiguous blocks of time.

    Examples
    --------
    >>> from brainenc.model_selection import check_run_cv
    >>> groups = [0, 1, 1, 2, 2, 2]
    >>> folds = check_run_cv(3, groups=groups)
    >>> sorted(test.tolist() for _, test in folds)
    [[0], [1, 2], [3, 4, 5]]
    >>> [test.tolist() for _, test in check_run_cv(2, n_samples=5)]
    [[0, 1, 2], [3, 4]]
    """
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", minimum=1)
    if groups is not None:
        if n_samples is None:
            n_samples = len(groups)
        groups = check_groups(groups, n_samples)
    if cv is None:
        cv = 5

    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cv = check_int(cv, "cv", minimum=2)
        if groups is None:
            n_samples = _require_n_samples(n_samples, "an int cv")
            if cv > n_samples:
                raise ValueError(
                    f"cv={cv} folds need at least {cv} samples, got "
                    f"n_samples={n_samples}."
                )
            splitter = BlockedKFold(cv)
        else:
            n_runs = len(np.unique(groups))
            if cv > n_runs:
                raise ValueError(
                    f"cv={cv} folds of whole runs need at least {cv} runs, but "
                    f"groups holds {n_runs} run{'s' if n_runs != 1 else ''}. "
                    "Use fewer folds or pass a splitter."
                )
            splitter = GroupKFold(n_splits=cv)
        folds = splitter.split(np.zeros((n_samples, 1)), None, groups)
    elif isinstance(cv, (str, bytes)):
        raise TypeError(
            "cv must be an int, a cross-validation splitter (with a split "
            "method), an iterable of (train, test) index arrays or None, got "
            f"the string {cv!r}."
        )
    elif hasattr(cv, "split") and callable(cv.split):
        n_samples = _require_n_samples(n_samples, "a splitter cv")
        folds = cv.split(np.zeros((n_samples, 1)), None, groups)
    elif isinstance(cv, Iterable):
        folds = cv
    else:
        raise TypeError(
            "cv must be an int, a cross-validation splitter (with a split "
            "method), an iterable of (train, test) index arrays or None, got "
            f"{type(cv).__name__} {cv!r}."
        )
    return _check_folds(folds, n_samples)


def _estimator_folds(cv, groups, n_samples):
    """The folds of an estimator's internal cross-validation over runs.

    ``cv=None`` means 5 folds of whole runs, or leave-one-run-out when there
    are fewer than 5 runs; an int asking for more folds than there are runs
    falls back to leave-one-run-out with a warning; a single run means
    contiguous blocks. Everything else is :func:`check_run_cv`.
    """
    n_runs = np.unique(groups).size
    if cv is None:
        cv = min(5, n_runs) if n_runs > 1 else 5
    elif (
        isinstance(cv, numbers.Integral)
        and not isinstance(cv, bool)
        and 1 < n_runs < cv
    ):
        warnings.warn(
            f"cv={cv} asks for more folds than the {n_runs} runs in groups; "
            f"using leave-one-run-out ({n_runs} folds).",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        cv = n_runs
    return check_run_cv(cv, groups if n_runs > 1 else None, n_samples=n_samples)


def _require_n_samples(n_samples, what):
    if n_samples is None:
        raise ValueError(f"n_samples (or groups) is needed to build folds from {what}.")
    return n_samples


def _even_bounds(n_samples, n_splits):
    """Fold boundaries of ``n_splits`` contiguous blocks, as KFold sizes them."""
    if n_splits > n_samples:
        raise ValueError(
            f"Cannot have n_splits={n_splits} greater than the number of "
            f"samples: n_samples={n_samples}."
        )
    sizes = np.full(n_splits, n_samples // n_splits, dtype=np.intp)
    sizes[: n_samples % n_splits] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


def _balanced_run_bounds(starts, n_samples, n_splits):
    """Fold boundaries on run boundaries with the most balanced fold sizes.

    Splits the sequence of runs into ``n_splits`` contiguous, non-empty
    stretches minimising the sum of squared fold sizes (equivalently their
    variance), by dynamic programming over the run boundaries. Ties go to the
    earliest boundary.
    """
    n_runs = len(starts)
    if n_splits > n_runs:
        raise ValueError(
            f"Cannot have n_splits={n_splits} greater than the number of runs in "
            f"groups: {n_runs} run{'s' if n_runs != 1 else ''}. Use fewer folds."
        )
    # cum[i]: number of samples in the first i runs (i = 0..n_runs).
    cum = np.append(starts, n_samples).astype(np.float64)
    # cost[i]: least sum of squared fold sizes of the first i runs cut into
    # j + 1 non-empty folds; one fold to start with (no fold of zero runs).
    cost = cum**2
    cost[0] = np.inf
    back = np.zeros((n_splits, n_runs + 1), dtype=np.intp)
    # Rows of the (i, p) table per chunk, so that memory stays bounded.
    step = max(1, 2**22 // (n_runs + 1))
    p = np.arange(n_runs + 1)
    for j in range(1, n_splits):
        new = np.empty(n_runs + 1)
        for lo in range(0, n_runs + 1, step):
            i = np.arange(lo, min(lo + step, n_runs + 1))[:, np.newaxis]
            # Fold j holds runs p..i-1: non-empty, so p < i.
            total = cost + (cum[i] - cum) ** 2
            total[p >= i] = np.inf
            back[j, i[:, 0]] = np.argmin(total, axis=1)
            new[i[:, 0]] = total[np.arange(i.shape[0]), back[j, i[:, 0]]]
        cost = new
    bounds = [n_runs]
    for j in range(n_splits - 1, 0, -1):
        bounds.append(back[j][bounds[-1]])
    run_bounds = np.array(bounds[::-1], dtype=np.intp)
    return np.concatenate([[0], cum[run_bounds]]).astype(np.intp)


def _check_folds(folds, n_samples):
    """Materialise folds as integer arrays and check that they are usable."""
    checked = []
    for k, fold in enumerate(folds):
        try:
            train, test = fold
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"cv must yield (train, test) pairs, but fold {k} is {fold!r}."
            ) from exc
        train = _fold_indices(train, n_samples, k, "training")
        test = _fold_indices(test, n_samples, k, "test")
        if train.size == 0 or test.size == 0:
            which = "training" if train.size == 0 else "test"
            raise ValueError(f"cv gives fold {k} an empty {which} set.")
        if np.intersect1d(train, test).size:
            raise ValueError(
                f"cv gives fold {k} samples that are both in its training and "
                "its test set; held-out scores would leak."
            )
        checked.append((train, test))
    if not checked:
        raise ValueError("cv gives no fold at all.")
    return checked


def _fold_indices(idx, n_samples, k, which):
    idx = np.asarray(idx)
    if idx.dtype == bool:
        if idx.ndim != 1 or (n_samples is not None and idx.shape[0] != n_samples):
            raise ValueError(
                f"cv gives fold {k} a boolean {which} mask of shape {idx.shape}, "
                f"expected ({n_samples},)."
            )
        return np.flatnonzero(idx).astype(np.intp)
    if idx.size == 0:
        return np.zeros(0, dtype=np.intp)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(
            f"cv gives fold {k} {which} indices that are not a 1-D array of "
            f"integers (shape {idx.shape}, dtype {idx.dtype})."
        )
    upper = np.inf if n_samples is None else n_samples
    if idx.min() < 0 or idx.max() >= upper:
        raise ValueError(
            f"cv gives fold {k} {which} indices out of range: they span "
            f"[{idx.min()}, {idx.max()}] but there are {n_samples} samples."
        )
    return idx.astype(np.intp)
