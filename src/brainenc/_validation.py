"""Input checks shared by every module: runs (``groups``) and delays."""

import numbers

import numpy as np


def check_groups(groups, n_samples, *, name="groups"):
    """Validate run labels and return them as a 1-D array.

    Parameters
    ----------
    groups : array-like of shape (n_samples,) or None
        Run label of every sample. Samples of one run must be contiguous.
    n_samples : int
        Number of samples the labels must cover.
    name : str, default="groups"
        Name of the argument, used in error messages.

    Returns
    -------
    groups : ndarray of shape (n_samples,)
        The labels (a zero array, one run, when ``groups`` is None).

    Raises
    ------
    ValueError
        If the length does not match ``n_samples``, the labels hold NaN, or a
        run is split into several non-contiguous pieces.
    """
    if groups is None:
        return np.zeros(n_samples, dtype=np.intp)
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of run labels of shape (n_samples,), "
            f"got an array of shape {groups.shape}."
        )
    if groups.shape[0] != n_samples:
        raise ValueError(
            f"{name} must have one run label per sample: X has {n_samples} "
            f"samples but {name} has {groups.shape[0]}."
        )
    if groups.dtype.kind in "fc" and not np.all(np.isfinite(groups)):
        raise ValueError(f"{name} must not contain NaN or inf run labels.")
    if groups.dtype.kind == "O":
        groups = groups.astype(str)
    if n_samples:
        starts = run_starts(groups)
        labels = groups[starts]
        uniq, counts = np.unique(labels, return_counts=True)
        if np.any(counts > 1):
            bad = uniq[counts > 1][0].item()
            raise ValueError(
                f"{name} must hold contiguous runs (all samples of a run next to "
                f"each other, in time order), but run {bad!r} appears in "
                f"{counts[counts > 1][0]} separate pieces."
            )
    return groups


def check_has_targets(y, *, name="y"):
    """Refuse a 2-D ``y`` without any column, naming it (before validation)."""
    shape = getattr(y, "shape", ())
    if len(shape) == 2 and shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one target (column), got shape {shape}."
        )


def run_starts(groups):
    """Indices where a new run starts (the first is always 0)."""
    groups = np.asarray(groups)
    if groups.shape[0] == 0:
        return np.zeros(0, dtype=np.intp)
    change = np.flatnonzero(groups[1:] != groups[:-1]) + 1
    return np.concatenate([[0], change]).astype(np.intp)


def run_slices(groups):
    """List of slices, one per run, in the order the runs appear."""
    starts = run_starts(groups)
    stops = np.append(starts[1:], len(groups))
    return [slice(int(a), int(b)) for a, b in zip(starts, stops, strict=False)]


def check_delays(delays, *, name="delays"):
    """Validate delays in samples and return them as a 1-D int array.

    An int ``n`` (>= 1) means the delays ``1, ..., n``; a sequence of ints is
    taken as given (negative values are lags before stimulus onset).
    """
    if isinstance(delays, numbers.Integral) and not isinstance(delays, bool):
        if delays < 1:
            raise ValueError(
                f"{name} as an int n means the delays 1..n and must be >= 1, "
                f"got {delays}. Pass a sequence such as [0] for no delay."
            )
        return np.arange(1, int(delays) + 1, dtype=np.intp)
    if isinstance(delays, (str, bytes, bool)):
        raise TypeError(
            f"{name} must be an int or a sequence of ints (samples), got "
            f"{type(delays).__name__} {delays!r}."
        )
    try:
        arr = np.asarray(delays)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(
            f"{name} must be an int or a sequence of ints, got {delays!r}."
        ) from exc
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{name} must be an int or a non-empty 1-D sequence of ints, got "
            f"{delays!r}."
        )
    if (
        arr.dtype.kind == "f"
        and np.all(np.isfinite(arr))
        and np.all(arr == np.round(arr))
    ):
        arr = arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must hold integer numbers of samples, got {delays!r} "
            f"(dtype {arr.dtype}). Use delays_from_times to convert seconds."
        )
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} must not repeat a delay, got {delays!r}.")
    return arr.astype(np.intp)


def check_feature_spaces(feature_spaces, n_features, *, name="feature_spaces"):
    """Validate feature spaces and return them as ``{name: column indices}``.

    Parameters
    ----------
    feature_spaces : dict
        ``{space_name: columns}`` where columns is a slice, a sequence of column
        indices, or an int: a block of that many consecutive columns, starting
        at column 0 for the first space and otherwise right after the last
        column of the previous space in dict order (whatever form that space
        was given in).
    n_features : int
        Number of columns of ``X``.
    name : str, default="feature_spaces"
        Argument name used in error messages.

    Returns
    -------
    spaces : dict of str to ndarray of int
        Sorted column indices of each space, in the given order. Every column
        of ``X`` belongs to exactly one space.

    Raises
    ------
    TypeError
        If ``feature_spaces`` is not a non-empty dict, or columns are of an
        unsupported type.
    ValueError
        If a space is empty, a column is out of range, two spaces overlap, or
        a column belongs to no space.
    """
    if not isinstance(feature_spaces, dict) or not feature_spaces:
        raise TypeError(
            f"{name} must be a non-empty dict {{name: columns}} (columns: a slice, "
            f"a sequence of column indices or an int block size), got "
            f"{type(feature_spaces).__name__} {feature_spaces!r}."
        )
    spaces = {}
    next_start = 0
    for space, columns in feature_spaces.items():
        if isinstance(columns, numbers.Integral) and not isinstance(columns, bool):
            if columns < 1:
                raise ValueError(
                    f"{name}[{space!r}] must hold at least one column, got {columns}."
                )
            indices = np.arange(next_start, next_start + int(columns))
        elif isinstance(columns, slice):
            indices = np.arange(n_features)[columns]
        elif isinstance(columns, (str, bytes, bool, float)):
            raise TypeError(
                f"{name}[{space!r}] must be a slice, a sequence of column indices "
                f"or an int, got {columns!r}."
            )
        else:
            indices = np.asarray(columns)
            if indices.dtype == bool and indices.shape == (n_features,):
                indices = np.flatnonzero(indices)
            if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
                raise TypeError(
                    f"{name}[{space!r}] must be a slice, a 1-D sequence of integer "
                    f"column indices or an int, got {columns!r}."
                )
            indices = indices.astype(np.intp)
        if indices.size == 0:
            raise ValueError(
                f"{name}[{space!r}] selects no column of X (X has {n_features} "
                "feature(s))."
            )
        if indices.min() < 0 or indices.max() >= n_features:
            raise ValueError(
                f"{name}[{space!r}] selects columns {indices.min()}..{indices.max()}, "
                f"but X has {n_features} features."
            )
        if np.unique(indices).size != indices.size:
            raise ValueError(f"{name}[{space!r}] repeats a column.")
        next_start = int(indices.max()) + 1
        spaces[str(space)] = np.sort(indices)
    owner = np.full(n_features, -1)
    names = list(spaces)
    for i, indices in enumerate(spaces.values()):
        taken = owner[indices] >= 0
        if np.any(taken):
            other = names[owner[indices][taken][0]]
            raise ValueError(
                f"{name} must not overlap: spaces {other!r} and {names[i]!r} share "
                f"column {indices[taken][0]}."
            )
        owner[indices] = i
    if np.any(owner < 0):
        missing = np.flatnonzero(owner < 0)
        raise ValueError(
            f"{name} must cover every column of X: {missing.size} column(s) "
            f"(first: {missing[0]}) belong to no feature space."
        )
    return spaces
