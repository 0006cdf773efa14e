"""Input checks shared by every module: arrays, runs (``groups``), delays and
feature spaces.

Every message names the argument, says what was expected and what was given.
The array checks run before scikit-learn's conversion where that conversion
would accept what it should not (numeric strings) or fail with a message that
does not name the argument (complex values, ragged lists), and after it for
non-finite values (with the count and the first position).
"""

import numbers
import os
import sys

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

#: Float precisions the estimators compute in (other inputs become float64).
FLOAT_DTYPES = (np.float64, np.float32)


def check_numeric(array, name):
    """Refuse strings, complex values and non-numbers in an array-like.

    Missing values written as ``None`` or ``pandas.NA`` count as NaN (as in
    scikit-learn's own conversion): the caller's rule on NaN then applies.

    Parameters
    ----------
    array : array-like, DataFrame, Series or sparse matrix
        User input, before conversion.
    name : str
        Name of the argument, used in error messages.

    Returns
    -------
    array : ndarray, DataFrame, Series or sparse matrix
        ``array`` itself when it is a numeric ndarray, a pandas object
        (converted by scikit-learn, which records column names and turns
        nullable dtypes into NaN) or sparse (refused later by scikit-learn
        with a message naming the argument); an object ndarray of numbers
        converted to float64; anything else converted by
        :func:`numpy.asarray`, so it is not converted twice.

    Raises
    ------
    TypeError
        If it holds strings or objects that are not numbers.
    ValueError
        If it holds complex numbers or is a ragged nested sequence.
    """
    if array is None or sp.issparse(array):
        return array
    columns = _pandas_columns(array, name)
    if columns is not None:  # a DataFrame or a Series
        for label, column in columns:
            dtype = column.dtype
            kind = getattr(dtype, "kind", None)
            if kind == "c":
                _refuse_complex(label, dtype)
            if getattr(dtype, "name", None) == "category":
                values = np.asarray(dtype.categories, dtype=object)
                _check_object_values(values, label)
            elif kind in ("O", "U", "S"):
                _check_object_values(np.asarray(column, dtype=object), label)
        return array
    if not isinstance(array, np.ndarray):
        try:
            array = np.asarray(array)
        except ValueError as exc:
            raise ValueError(
                f"{name} must be an array-like of numbers of a regular shape, got "
                f"a {type(array).__name__} that numpy cannot convert ({exc})."
            ) from exc
    kind = array.dtype.kind
    if kind == "c":
        _refuse_complex(name, array.dtype)
    if kind in ("U", "S"):
        raise TypeError(
            f"{name} must hold numbers, got strings (dtype {array.dtype}). Convert "
            f"it explicitly, e.g. np.asarray({name}, dtype=float), if they are "
            "numbers."
        )
    if kind == "O":
        return _check_object_values(array, name)
    return array


def _pandas_columns(array, name):
    """``[(label, column), ...]`` of a pandas DataFrame or Series, else None."""
    if not hasattr(array, "dtype") and hasattr(array, "dtypes"):
        if hasattr(array, "columns") and hasattr(array, "items"):
            return [(f"{name}[{label!r}]", column) for label, column in array.items()]
        return None
    if (
        hasattr(array, "dtype")
        and hasattr(array, "to_numpy")
        and hasattr(array, "index")
    ):
        return [(name, array)]
    return None


def _refuse_complex(name, dtype):
    # "Complex data not supported" is scikit-learn's wording, which its
    # estimator checks look for.
    raise ValueError(
        f"{name} must hold real numbers, got complex values (dtype {dtype}). "
        "Complex data not supported: pass the real part, the magnitude or the "
        "phase."
    )


def _is_pandas_na(kind):
    # pandas.NA's type, without importing pandas
    return kind.__name__ == "NAType"


def _check_object_values(array, name):
    """The values of an object array as float64; each must be a real number.

    The types present are collected in one pass (fast: no Python call per
    value beyond ``type``); a value is converted one by one only on the path
    that reports an error or replaces ``pandas.NA``.
    """
    kinds = set(map(type, array.flat))
    for kind in kinds:
        if issubclass(kind, numbers.Real) or kind is type(None) or _is_pandas_na(kind):
            continue
        value = next(v for v in array.flat if type(v) is kind)
        if issubclass(kind, (str, bytes)):
            raise TypeError(
                f"{name} must hold numbers, got an object array holding strings "
                f"(first: {value!r}). Convert it explicitly if they are numbers."
            )
        if issubclass(kind, numbers.Complex):
            _refuse_complex(name, array.dtype)
        try:
            float(value)
        except (TypeError, ValueError) as exc:
            # float()'s own wording ("argument must be a string or a real
            # number") is what scikit-learn's estimator checks look for.
            raise TypeError(
                f"{name} must hold numbers, got an object array holding a "
                f"{kind.__name__} ({exc})."
            ) from exc
    if any(_is_pandas_na(kind) for kind in kinds):
        values = [np.nan if _is_pandas_na(type(v)) else v for v in array.flat]
        return np.asarray(values, dtype=np.float64).reshape(array.shape)
    return array.astype(np.float64)  # None becomes NaN


#: Names of the axes of X, of y and of a plain table, in messages.
X_AXES = ("sample", "feature")
Y_AXES = ("sample", "target")


def check_shape(array, name, *, ndim=(2,), what="(n_samples, n_features)", axes=X_AXES):
    """Check the number of dimensions and that no dimension is empty.

    ``ndim`` lists the accepted numbers of dimensions and ``axes`` names the
    axes (the first ``k`` names for a k-D array). The messages keep
    scikit-learn's wording where its estimator checks look for it ("Reshape
    your data", "0 feature(s) (shape=...) while a minimum of 1 is
    required").
    """
    shape = tuple(getattr(array, "shape", ()))
    if len(shape) not in ndim:
        expected = " or ".join(f"{n}-D" for n in ndim)
        hint = ""
        if len(shape) == 1 and 2 in ndim:
            hint = (
                f" Reshape your data: {name}.reshape(-1, 1) for a single column, "
                f"{name}.reshape(1, -1) for a single sample."
            )
        raise ValueError(
            f"{name} must be a {expected} array {what}, got an array of shape "
            f"{shape}.{hint}"
        )
    for axis, size in zip(_axis_names(axes, len(shape)), shape, strict=True):
        if size == 0:
            raise ValueError(
                f"{name} must have at least 1 {axis}, got 0 {axis}(s) "
                f"(shape={shape}) while a minimum of 1 is required."
            )


def _axis_names(axes, ndim):
    return list(axes[:ndim]) + [f"axis-{k} index" for k in range(len(axes), ndim)]


def check_finite(array, name, *, allow_nan=False, hint="", axes=X_AXES):
    """Refuse NaN (unless ``allow_nan``) and inf, giving the count and where.

    A sum in float64 finds the common case (all finite) without a boolean
    copy of the array; the positions are computed only when it fails.
    ``axes`` names the axes in the message (see :func:`check_shape`).
    """
    if array.dtype.kind != "f" or array.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(array, dtype=np.float64)):
            return
    n_nan = int(np.count_nonzero(np.isnan(array)))
    n_inf = int(np.count_nonzero(np.isinf(array)))
    if n_inf == 0 and (allow_nan or n_nan == 0):
        return
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    first = np.argwhere(bad)[0]
    where = ", ".join(
        f"{axis} {index}"
        for axis, index in zip(_axis_names(axes, array.ndim), first, strict=True)
    )
    counts = {"NaN": 0 if allow_nan else n_nan, "inf": n_inf}
    found = " and ".join(
        f"{what} ({n} value{'s' if n > 1 else ''})" for what, n in counts.items() if n
    )
    rule = "only NaN may mark a missing value" if allow_nan else "it must be finite"
    raise ValueError(
        f"{name} contains {found}, the first at {where}: {rule}. {hint}".rstrip()
    )


def check_input_array(
    array,
    name,
    *,
    dtype=FLOAT_DTYPES,
    ndim=(2,),
    what="(n_samples, n_features)",
    axes=X_AXES,
    allow_nan=False,
    ensure_finite=True,
    hint="",
):
    """Validate one array argument of a function and return it as an ndarray.

    Numbers only (:func:`check_numeric`), the accepted numbers of dimensions
    with no empty one (:func:`check_shape`), converted to ``dtype`` by
    scikit-learn's :func:`~sklearn.utils.check_array` (int to float64),
    finite (:func:`check_finite`; but for NaN with ``allow_nan``; not checked
    with ``ensure_finite=False``, for a caller that checks it itself). The
    caller's array is never modified.
    """
    array = check_numeric(array, name)
    check_shape(array, name, ndim=ndim, what=what, axes=axes)
    array = check_array(
        array,
        dtype=dtype,
        ensure_2d=False,
        allow_nd=True,
        ensure_all_finite=False,
        ensure_min_samples=0,
        ensure_min_features=0,
        input_name=name,
    )
    if ensure_finite:
        check_finite(array, name, allow_nan=allow_nan, hint=hint, axes=axes)
    return array


def validate_X(estimator, X, *, reset, dtype=FLOAT_DTYPES, name="X"):
    """Validate ``X`` of an estimator's fit, predict or transform.

    The checks of :func:`check_input_array`, plus scikit-learn's bookkeeping
    through :func:`~sklearn.utils.validation.validate_data`
    (``n_features_in_`` and ``feature_names_in_`` set with ``reset=True``,
    checked against them otherwise). With ``estimator=None`` (a function's
    argument), nothing is recorded.
    """
    X = check_numeric(X, name)
    check_shape(X, name)
    return _convert_X(estimator, X, reset, dtype, name)


def _convert_X(estimator, X, reset, dtype, name):
    """The conversion and finiteness part of :func:`validate_X`."""
    params = {
        "dtype": dtype,
        "ensure_all_finite": False,
        "ensure_min_samples": 0,
        "ensure_min_features": 0,
    }
    if estimator is None:
        X = check_array(X, input_name=name, **params)
    else:
        X = validate_data(estimator, X, reset=reset, **params)
    check_finite(X, name)
    return X


#: Why single-subject estimators refuse NaN in y.
NAN_Y_HINT = (
    "Responses must be complete: drop or impute the missing samples (NaN marks a "
    "subject's missing samples only for estimators that take n_subjects > 1)."
)


def check_y(
    y,
    n_samples,
    *,
    dtype=FLOAT_DTYPES,
    allow_nan=False,
    hint=NAN_Y_HINT,
    who="this function",
):
    """Validate responses ``y`` for ``n_samples`` samples of ``X``.

    Numeric (:func:`check_numeric`), 1-D or 2-D with at least one target,
    as many samples as ``X``, converted to ``dtype``, finite or, with
    ``allow_nan``, finite but for NaN. ``who`` names the caller in the message
    for a missing ``y``.
    """
    if y is None:
        raise ValueError(f"{who} requires y to be passed, but the target y is None.")
    y = check_numeric(y, "y")
    check_shape(
        y, "y", ndim=(1, 2), what="(n_samples,) or (n_samples, n_targets)", axes=Y_AXES
    )
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X and y must have the same number of samples (rows), got X with "
            f"{n_samples} and y with {y.shape[0]}."
        )
    y = check_array(
        y, dtype=dtype, ensure_2d=False, ensure_all_finite=False, input_name="y"
    )
    check_finite(
        y, "y", allow_nan=allow_nan, hint="" if allow_nan else hint, axes=Y_AXES
    )
    return y


def validate_X_y(
    estimator,
    X,
    y,
    *,
    dtype=FLOAT_DTYPES,
    allow_nan_y=False,
):
    """Validate ``X`` and ``y`` of an estimator's fit, or of a function.

    ``X`` as in :func:`validate_X` (with ``reset=True``), ``y`` as in
    :func:`check_y`, both in ``dtype``. With
    ``estimator=None`` (a function's arguments), nothing is recorded.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
    """
    X = check_numeric(X, "X")
    check_shape(X, "X")
    who = "this function" if estimator is None else type(estimator).__name__
    y = check_y(
        y,
        X.shape[0],
        dtype=dtype,
        allow_nan=allow_nan_y,
        who=who,
    )
    return _convert_X(estimator, X, True, dtype, "X"), y


def n_rows(X):
    """Number of samples of an array-like, without converting it."""
    shape = getattr(X, "shape", None)
    return shape[0] if shape else len(X)


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


def check_run_lengths(groups, delays):
    """Slices of the runs of ``groups``; each must be as long as the largest
    absolute delay (a shorter run's delayed copy would be all padding)."""
    max_lag = int(np.max(np.abs(delays)))
    runs = run_slices(groups)
    for run in runs:
        length = run.stop - run.start
        if length < max_lag:
            label = groups[run.start].item()
            raise ValueError(
                f"Every run of groups must be at least as long as the largest "
                f"delay: run {label!r} has {length} "
                f"sample{'s' if length != 1 else ''} but delays reach {max_lag} "
                f"samples. Use fewer delays, or merge or drop the short run."
            )
    return runs


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


def check_int(value, name, *, minimum):
    """``value`` as a Python int, if it is an integer (not a bool) >= ``minimum``.

    Raises TypeError for a value that is not an integer and ValueError for one
    below ``minimum``, both naming ``name``.
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be an int >= {minimum}, got {type(value).__name__} {value!r}."
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}.")
    return int(value)


def check_feature_spaces(
    feature_spaces, n_features, *, name="feature_spaces", allow_uncovered=False
):
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
    allow_uncovered : bool, default=False
        Allow columns of ``X`` that belong to no space (the caller ignores
        them); by default every column must be in a space.

    Returns
    -------
    spaces : dict of str to ndarray of int
        Sorted column indices of each space, in the given order. Every column
        of ``X`` belongs to at most one space (exactly one unless
        ``allow_uncovered``).

    Raises
    ------
    TypeError
        If ``feature_spaces`` is not a non-empty dict, or columns are of an
        unsupported type.
    ValueError
        If a space is empty, a column is out of range, two spaces overlap, or
        a column belongs to no space (unless ``allow_uncovered``).
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
    if np.any(owner < 0) and not allow_uncovered:
        missing = np.flatnonzero(owner < 0)
        raise ValueError(
            f"{name} must cover every column of X: {missing.size} column(s) "
            f"(first: {missing[0]}) belong to no feature space."
        )
    return spaces


def _package_dirs():
    """Folders whose frames are the library's, not the user's (warnings)."""
    import joblib
    import sklearn

    return tuple(
        os.path.dirname(module.__file__) + os.sep
        for module in (sys.modules[__package__], sklearn, joblib)
    )


def user_stacklevel():
    """``stacklevel`` for ``warnings.warn`` that points at the user's line.

    Counts the frames, from the function calling this helper, that belong to
    brainenc, scikit-learn or joblib (a fit inside ``GridSearchCV``, a
    ``_fit_context`` wrapper, a subclass overriding ``fit``), so the warning
    is reported at the first frame outside them, however deep the call.
    """
    dirs = _package_dirs()
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(dirs):
        frame = frame.f_back
        level += 1
    return level
