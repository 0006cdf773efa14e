"""Loading per-run feature and response files into ``X, y, groups``.

Researchers keep one features file and one responses file per run (episode,
story, recording), as NumPy ``.npy``/``.npz`` or HDF5 ``.h5``/``.hdf5``
files, whose lengths often differ by a few samples. :func:`load_runs` pairs
the files of every run by name, aligns their lengths with an explicit policy,
optionally z-scores every run, and returns the concatenated ``X``, ``y`` and
``groups`` with the ``feature_spaces`` named after the files' keys.
:func:`load_repeats` reads the responses to repeated presentations used for
noise ceilings, and :func:`save_model` / :func:`load_model` store a fitted
model with the brainenc version that saved it.

Arrays are read with ``allow_pickle=False``: loading data never executes code.
HDF5 files need ``h5py``.
"""

import glob
import json
import os
import pickle
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = [
    "SUFFIXES",
    "load_model",
    "load_repeats",
    "load_runs",
    "save_model",
    "zscore_runs",
]

#: File name endings read by :func:`load_runs` and :func:`load_repeats`.
SUFFIXES = (".npy", ".npz", ".h5", ".hdf5", ".hf5")

_LENGTH_MISMATCH = ("trim", "pad", "error")
_ZSCORE = (None, "none", "features", "responses", "both")
_MODEL_MAGIC = b"BRAINENC-MODEL"
_MODEL_FORMAT = 1


def load_runs(
    features,
    responses=None,
    *,
    runs=None,
    feature_keys=None,
    response_key=None,
    run_pattern=None,
    length_mismatch="trim",
    max_mismatch=5,
    zscore=None,
    allow_nan_responses=False,
    dtype="float32",
):
    """Load per-run feature and response files into ``X``, ``y`` and ``groups``.

    Every run has its own files, paired across sources by run name (the file
    name without its ending, or the first group of ``run_pattern``). Inside
    a run, the features and responses are aligned at their first sample;
    lengths that differ by at most ``max_mismatch`` samples at the end are
    reconciled by ``length_mismatch``.

    .. versionadded:: 0.1

    Parameters
    ----------
    features : path-like, sequence of path-like, or dict of str to path-like
        Feature files. A path is a file, a directory (every ``.npy``,
        ``.npz``, ``.h5``, ``.hdf5`` or ``.hf5`` file in it) or a glob
        pattern; a sequence pools several. Feature spaces are named from the
        files' keys: every array of a run's ``.npz`` or HDF5 file is one
        feature space named by its key (dataset path), and a ``.npy`` file's
        space is named ``"features"``. A dict ``{space: path}`` gives each
        space its own files (one file per run and space): a file holding one
        array makes the space ``space``, one holding several makes the spaces
        ``"space/key"``.
    responses : path-like or sequence of path-like, default=None
        Response files, one per run, each holding one array of shape
        ``(n_samples, n_targets)`` (or ``(n_samples,)``, one target), or
        several with ``response_key`` naming the one to read. ``None`` loads
        the features only (``y`` is None), e.g. to predict.
    runs : sequence of str, default=None
        Names of the runs to load, in this order. ``None`` loads every run,
        in natural order of their names (``run-2`` before ``run-10``); then
        the features and the responses must hold the same runs.
    feature_keys : sequence of str, default=None
        Keys (dataset paths) of the feature files to read; ``None`` reads
        every numeric array of at least one dimension.
    response_key : str, default=None
        Key of the responses array in ``.npz`` or HDF5 response files that
        hold several.
    run_pattern : str, default=None
        Regular expression whose first group (or whole match) extracts the
        run name from a file name, e.g. ``r"run-\\d+"`` to pair
        ``run-01_features.h5`` with ``run-01_bold.npy``. ``None`` takes the
        file name without its ending.
    length_mismatch : {"trim", "pad", "error"}, default="trim"
        What to do when the arrays of a run (its feature spaces and its
        responses) differ in length by at most ``max_mismatch`` samples:

        - ``"trim"``: cut every array to the shortest one (samples are lost
          at the end of the run);
        - ``"pad"``: bring every feature space to the length of the
          responses (to the longest feature space without responses): longer
          features are cut, shorter ones repeat their last sample. Responses
          are never padded;
        - ``"error"``: raise.
    max_mismatch : int, default=5
        Largest difference in samples between the arrays of a run that
        ``"trim"`` and ``"pad"`` reconcile; a larger one is an error naming
        the run and the lengths (a sign of a wrong file or sampling rate).
    zscore : {None, "features", "responses", "both"}, default=None
        Z-score every column within every run (see :func:`zscore_runs`),
        after alignment.
    allow_nan_responses : bool, default=False
        Accept NaN in the responses (missing samples, for the multi-subject
        estimators that mask them). Features may never hold NaN or inf.
    dtype : str or numpy dtype, default="float32"
        Data type of ``X`` and ``y``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the keys:

        - ``X`` : ndarray of shape (n_samples, n_features), the runs one
          after the other, the feature spaces side by side.
        - ``y`` : ndarray of shape (n_samples, n_targets), or None.
        - ``groups`` : ndarray of str of shape (n_samples,), the run name of
          every sample.
        - ``feature_spaces`` : dict of str to slice, the columns of every
          feature space, for the ``feature_spaces`` parameter of the
          estimators.
        - ``runs`` : list of str, the run names in order.
        - ``lengths`` : dict, for every run the original length of each
          array (``"responses"`` and every source of features).
        - ``n_samples_per_run`` : dict of str to int, the aligned lengths.
        - ``adjusted`` : dict of str to str, for every run whose lengths were
          trimmed or padded, what was done.
        - ``files`` : dict, for every run the file of each source.

    Raises
    ------
    FileNotFoundError
        If a path does not exist, or no data file is found for a source.
    ValueError
        If the runs of the sources do not match, a run's lengths cannot be
        aligned, a file holds an unreadable, non-numeric or wrongly shaped
        array, the feature spaces differ between runs, or the features hold
        NaN or inf.

    See Also
    --------
    zscore_runs : The per-run z-scoring.
    load_repeats : Responses to repeated presentations, for noise ceilings.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from brainenc.io import load_runs
    >>> folder = Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> for run, n in [("run-1", 50), ("run-2", 40)]:
    ...     np.savez(folder / f"{run}_feat.npz", audio=rng.random((n + 1, 3)),
    ...              video=rng.random((n, 2)))
    ...     np.save(folder / f"{run}_bold.npy", rng.random((n, 4)))
    >>> data = load_runs(folder / "*_feat.npz", folder / "*_bold.npy",
    ...                  run_pattern=r"run-\\d+", length_mismatch="trim")
    >>> data.X.shape, data.y.shape
    ((90, 5), (90, 4))
    >>> data.feature_spaces
    {'audio': slice(0, 3, None), 'video': slice(3, 5, None)}
    >>> data.runs, data.adjusted["run-1"]
    (['run-1', 'run-2'], 'trimmed to 50 samples')
    """
    return _load_runs(
        features,
        responses,
        runs=runs,
        feature_keys=feature_keys,
        response_key=response_key,
        run_pattern=run_pattern,
        length_mismatch=length_mismatch,
        max_mismatch=max_mismatch,
        zscore=zscore,
        allow_nan_responses=allow_nan_responses,
        dtype=dtype,
    )


def zscore_runs(X, groups=None, *, ddof=0):
    """Z-score every column within every run.

    Each column of each run is centred on its mean in that run and divided by
    its standard deviation in that run. A column that is constant within a
    run becomes 0 there (centred, not scaled).

    .. versionadded:: 0.1

    Parameters
    ----------
    X : array-like of shape (n_samples, n_columns) or (n_samples,)
        Features or responses, time along axis 0. NaN is ignored in the
        statistics and stays NaN.
    groups : array-like of shape (n_samples,), default=None
        Run labels (contiguous runs); ``None`` means one run.
    ddof : int, default=0
        Delta degrees of freedom of the standard deviation.

    Returns
    -------
    X_z : ndarray of the shape of ``X``
        A new floating-point array; ``X`` is not modified.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.io import zscore_runs
    >>> X = np.array([[1.0], [3.0], [10.0], [20.0], [30.0]])
    >>> zscore_runs(X, groups=[0, 0, 1, 1, 1]).ravel().round(3)
    array([-1.   ,  1.   , -1.225,  0.   ,  1.225])
    """
    from ._validation import check_groups, check_input_array, run_slices

    X = check_input_array(
        X,
        "X",
        ndim=(1, 2),
        what="(n_samples, n_columns) or (n_samples,), time along axis 0",
        axes=("sample", "column"),
        allow_nan=True,
    ).copy()
    groups = check_groups(groups, X.shape[0])
    for run in run_slices(groups):
        block = X[run]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nanmean(block, axis=0) if block.size else 0.0
            std = np.nanstd(block, axis=0, ddof=ddof) if block.size else 1.0
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        X[run] = (block - mean) / std
    return X


def load_repeats(path, *, key=None, dtype="float64"):
    """Load responses to repeated presentations of the same stimulus.

    .. versionadded:: 0.1

    Parameters
    ----------
    path : path-like
        A ``.npy`` file holding an array of shape
        ``(n_repeats, n_samples, n_targets)``, or an ``.npz`` or HDF5 file
        holding one such array, or one ``(n_samples, n_targets)`` array per
        repeat (stacked in natural order of their keys).
    key : str, default=None
        Key of the array to read in an ``.npz`` or HDF5 file holding
        several 3-D arrays.
    dtype : str or numpy dtype, default="float64"
        Data type of the result.

    Returns
    -------
    responses : ndarray of shape (n_repeats, n_samples, n_targets)
        Ready for :func:`brainenc.metrics.noise_ceiling_repeats`. A single
        target (2-D ``.npy`` array) gets a last axis of length 1.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from brainenc.io import load_repeats
    >>> path = Path(tempfile.mkdtemp()) / "repeats.npz"
    >>> np.savez(path, rep1=np.ones((20, 3)), rep2=np.zeros((20, 3)))
    >>> load_repeats(path).shape
    (2, 20, 3)
    """
    path = _existing_file(path, "repeats")
    arrays = _read_arrays(path)
    if key is not None:
        if key not in arrays:
            raise ValueError(
                f"repeats file {str(path)!r} has no array {key!r}; it holds "
                f"{_key_list(arrays)}."
            )
        arrays = {key: arrays[key]}
    shapes = {name: arr.shape for name, arr in arrays.items()}
    if len(arrays) == 1:
        responses = next(iter(arrays.values()))
        if responses.ndim == 2 and path.suffix == ".npy":
            responses = responses[:, :, np.newaxis]
    elif (
        all(len(shape) == 2 for shape in shapes.values())
        and len(set(shapes.values())) == 1
    ):
        names = sorted(arrays, key=_natural_key)
        responses = np.stack([arrays[name] for name in names])
    else:
        raise ValueError(
            f"repeats file {str(path)!r} must hold one array of shape (n_repeats, "
            f"n_samples, n_targets) or one (n_samples, n_targets) array per "
            f"repeat; it holds {_describe_shapes(shapes)} (set key=...)."
        )
    if responses.ndim != 3:
        raise ValueError(
            f"repeats in {str(path)!r} must have shape (n_repeats, n_samples, "
            f"n_targets), got shape {responses.shape}."
        )
    return np.asarray(responses, dtype=dtype)


def save_model(path, estimator, **metadata):
    """Save a fitted model with the brainenc version that saved it.

    The file starts with a one-line text header (a format tag and a JSON
    object with the versions and ``metadata``) followed by the pickled
    estimator, so :func:`load_model` can check the versions before it
    unpickles anything.

    .. versionadded:: 0.1

    Parameters
    ----------
    path : path-like
        File to write (conventionally ``model.pkl``).
    estimator : object
        The fitted estimator (anything picklable).
    **metadata : JSON-serialisable values
        Stored in the header and returned by :func:`load_model`.

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    load_model : Read it back.
    """
    import sklearn

    from . import __version__

    header = {
        "format": _MODEL_FORMAT,
        "brainenc_version": __version__,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "metadata": metadata,
    }
    line = json.dumps(header, sort_keys=True, allow_nan=False)
    path = Path(path)
    with open(path, "wb") as file:
        file.write(_MODEL_MAGIC + b" " + line.encode() + b"\n")
        pickle.dump(estimator, file, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_model(path):
    """Load a model saved by :func:`save_model`, checking its version.

    Models load in the brainenc version that saved them or another release
    of the same minor series (``0.1.x`` for a model saved by ``0.1.0``). The
    estimator is a pickle: load only files you trust.

    .. versionadded:: 0.1

    Parameters
    ----------
    path : path-like
        The model file.

    Returns
    -------
    estimator : object
        The fitted estimator.
    header : dict
        ``brainenc_version``, ``sklearn_version``, ``numpy_version``,
        ``python_version`` and the ``metadata`` given to :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a brainenc model file, or was saved by an incompatible
        brainenc version.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from brainenc import DelayedRidge, make_encoding_data
    >>> from brainenc.io import load_model, save_model
    >>> X, y, groups, _ = make_encoding_data(200, 3, 2, n_runs=2, random_state=0)
    >>> model = DelayedRidge(backend="numpy").fit(X, y, groups=groups)
    >>> path = save_model(Path(tempfile.mkdtemp()) / "model.pkl", model, note="demo")
    >>> loaded, header = load_model(path)
    >>> header["metadata"]
    {'note': 'demo'}
    >>> bool((loaded.coef_ == model.coef_).all())
    True
    """
    from . import __version__

    path = _existing_file(path, "model")
    with open(path, "rb") as file:
        first = file.readline()
        tag, _, text = first.partition(b" ")
        if tag != _MODEL_MAGIC:
            raise ValueError(
                f"{str(path)!r} is not a brainenc model file (it does not start "
                f"with the {_MODEL_MAGIC.decode()} header written by save_model)."
            )
        try:
            header = json.loads(text)
            saved = header["brainenc_version"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                f"{str(path)!r} has a damaged brainenc model header."
            ) from None
        if header.get("format") != _MODEL_FORMAT or not _same_series(
            saved, __version__
        ):
            raise ValueError(
                f"model file {str(path)!r} was saved by brainenc {saved}, which is "
                f"incompatible with the installed brainenc {__version__} (models "
                f"load within the same minor version); refit the model or "
                f"install brainenc=={saved}."
            )
        estimator = pickle.load(file)
    return estimator, header


# --------------------------------------------------------------------------
# private helpers


def _load_runs(
    features,
    responses,
    *,
    runs,
    feature_keys,
    response_key,
    run_pattern,
    length_mismatch,
    max_mismatch,
    zscore,
    allow_nan_responses,
    dtype,
    callback=None,
):
    if length_mismatch not in _LENGTH_MISMATCH:
        raise ValueError(
            f"length_mismatch must be one of {_LENGTH_MISMATCH}, got "
            f"{length_mismatch!r}."
        )
    if (
        not isinstance(max_mismatch, (int, np.integer))
        or isinstance(max_mismatch, bool)
        or max_mismatch < 0
    ):
        raise ValueError(f"max_mismatch must be an int >= 0, got {max_mismatch!r}.")
    if zscore not in _ZSCORE:
        raise ValueError(
            f"zscore must be None, 'features', 'responses' or 'both', got {zscore!r}."
        )
    pattern = re.compile(run_pattern) if run_pattern is not None else None

    if isinstance(features, dict):
        if not features:
            raise ValueError("features must not be an empty dict.")
        sources = {str(name): spec for name, spec in features.items()}
        named = True
    else:
        sources = {"features": features}
        named = False
    feature_files = {
        name: _run_files(spec, f"features {name!r}" if named else "features", pattern)
        for name, spec in sources.items()
    }
    response_files = (
        None if responses is None else _run_files(responses, "responses", pattern)
    )
    run_names = _select_runs(runs, feature_files, response_files)

    lengths, adjusted, files, n_per_run = {}, {}, {}, {}
    X_blocks, y_blocks, layout = [], [], None
    for i, run in enumerate(run_names):
        arrays, run_lengths, run_files = {}, {}, {}
        for source, by_run in feature_files.items():
            path = by_run[run]
            run_files[source] = str(path)
            found = _read_arrays(path)
            if feature_keys is not None:
                missing = [k for k in feature_keys if k not in found]
                if missing:
                    raise ValueError(
                        f"run {run!r}: features file {str(path)!r} has no array "
                        f"{missing[0]!r}; it holds {_key_list(found)}."
                    )
                found = {k: found[k] for k in feature_keys}
            if not found:
                raise ValueError(
                    f"run {run!r}: features file {str(path)!r} holds no numeric array."
                )
            for key, arr in found.items():
                space = _space_name(source, key, named, len(found))
                arrays[space] = _as_2d(arr, f"run {run!r}: features {space!r}", path)
        run_lengths.update({space: arr.shape[0] for space, arr in arrays.items()})
        run_layout = [(space, arr.shape[1]) for space, arr in arrays.items()]
        if layout is None:
            layout = run_layout
        elif run_layout != layout:
            raise ValueError(
                f"run {run!r} has feature spaces {_layout_text(run_layout)} but run "
                f"{run_names[0]!r} has {_layout_text(layout)}; every run needs the "
                "same feature spaces and widths."
            )
        y_run = None
        if response_files is not None:
            path = response_files[run]
            run_files["responses"] = str(path)
            y_run = _as_2d(
                _pick_response(_read_arrays(path), response_key, path),
                f"run {run!r}: responses",
                path,
            )
            run_lengths["responses"] = y_run.shape[0]
        n, note = _aligned_length(
            run,
            {space: arr.shape[0] for space, arr in arrays.items()},
            None if y_run is None else y_run.shape[0],
            length_mismatch,
            max_mismatch,
            run_files,
        )
        X_run = np.concatenate(
            [_fit_length(arr, n) for arr in arrays.values()], axis=1
        ).astype(dtype, copy=False)
        _check_finite_features(X_run, run, layout, run_files)
        if y_run is not None:
            y_run = np.asarray(y_run[:n], dtype=dtype)
            bad = np.isinf(y_run) if allow_nan_responses else ~np.isfinite(y_run)
            if bad.any():
                rows = np.flatnonzero(bad.any(axis=1))
                raise ValueError(
                    f"run {run!r}: responses ({run_files['responses']!r}) contain "
                    f"{'inf' if allow_nan_responses else 'NaN or inf'} at "
                    f"{rows.size} sample(s) (first: sample {rows[0]})."
                )
        if zscore in ("features", "both"):
            X_run = zscore_runs(X_run).astype(dtype, copy=False)
        if y_run is not None and zscore in ("responses", "both"):
            y_run = zscore_runs(y_run).astype(dtype, copy=False)
        X_blocks.append(X_run)
        y_blocks.append(y_run)
        lengths[run] = run_lengths
        files[run] = run_files
        n_per_run[run] = n
        if note:
            adjusted[run] = note
        if callback is not None:
            callback(i + 1, len(run_names), run)

    if y_blocks[0] is not None:
        widths = {run: y.shape[1] for run, y in zip(run_names, y_blocks, strict=True)}
        if len(set(widths.values())) > 1:
            first = run_names[0]
            other = next(r for r in run_names if widths[r] != widths[first])
            raise ValueError(
                f"run {other!r} has {widths[other]} response targets but run "
                f"{first!r} has {widths[first]}; every run needs the same targets."
            )
        y = np.concatenate(y_blocks)
    else:
        y = None
    feature_spaces, start = {}, 0
    for space, width in layout:
        feature_spaces[space] = slice(start, start + width)
        start += width
    return Bunch(
        X=np.concatenate(X_blocks),
        y=y,
        groups=np.repeat(np.array(run_names), list(n_per_run.values())),
        feature_spaces=feature_spaces,
        runs=list(run_names),
        lengths=lengths,
        n_samples_per_run=n_per_run,
        adjusted=adjusted,
        files=files,
    )


def _run_files(spec, what, pattern):
    """``{run name: file}`` of one source (a path, a glob, or a list of them)."""
    if isinstance(spec, (str, os.PathLike)):
        specs = [spec]
    else:
        try:
            specs = list(spec)
        except TypeError:
            raise TypeError(
                f"{what} must be a path, a glob pattern or a sequence of them, got "
                f"{type(spec).__name__}."
            ) from None
        if not specs:
            raise ValueError(f"{what}: no path given.")
    paths = []
    for item in specs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if _is_data_file(p))
            if not found:
                raise FileNotFoundError(
                    f"{what}: no {'/'.join(SUFFIXES)} file in directory {text!r}."
                )
            paths.extend(found)
        elif path.is_file():
            if not _is_data_file(path):
                raise ValueError(
                    f"{what}: {text!r} is not a {'/'.join(SUFFIXES)} file."
                )
            paths.append(path)
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text) if _is_data_file(Path(p)))
            if not found:
                raise FileNotFoundError(
                    f"{what}: no {'/'.join(SUFFIXES)} file matches {text!r}."
                )
            paths.extend(found)
        else:
            raise FileNotFoundError(f"{what} file not found: {text!r}.")
    by_run = {}
    for path in paths:
        run = _run_name(path, pattern, what)
        if run in by_run and by_run[run] != path:
            raise ValueError(
                f"{what}: two files for run {run!r}: {str(by_run[run])!r} and "
                f"{str(path)!r} (give each feature space its own NAME=PATH, or a "
                "run_pattern that tells the runs apart)."
            )
        by_run[run] = path
    return by_run


def _run_name(path, pattern, what):
    name = path.name
    if pattern is None:
        return name[: -len(_suffix(path))]
    match = pattern.search(name)
    if match is None:
        raise ValueError(
            f"{what}: file name {name!r} does not match run_pattern "
            f"{pattern.pattern!r}."
        )
    return match.group(1) if pattern.groups else match.group(0)


def _select_runs(runs, feature_files, response_files):
    sources = dict(feature_files)
    if response_files is not None:
        sources["responses"] = response_files
    if runs is not None:
        if isinstance(runs, str):
            runs = [runs]
        runs = [str(r) for r in runs]
        if not runs:
            raise ValueError("runs must name at least one run, got an empty list.")
        if len(set(runs)) != len(runs):
            raise ValueError(f"runs must not repeat a run, got {runs}.")
        for source, by_run in sources.items():
            missing = [r for r in runs if r not in by_run]
            if missing:
                raise ValueError(
                    f"mismatched runs: run {missing[0]!r} has no {_source_word(source)}"
                    f" file (found runs: {_run_list(by_run)})."
                )
        return runs
    reference = "responses" if response_files is not None else next(iter(sources))
    names = sorted(sources[reference], key=_natural_key)
    for source, by_run in sources.items():
        extra = sorted(set(by_run) - set(names), key=_natural_key)
        missing = sorted(set(names) - set(by_run), key=_natural_key)
        if extra:
            raise ValueError(
                f"mismatched runs: run {extra[0]!r} has {_source_word(source)} but "
                f"no {_source_word(reference)} (runs with "
                f"{_source_word(reference)}: {_run_list(names)}); select runs "
                "explicitly to leave it out."
            )
        if missing:
            raise ValueError(
                f"mismatched runs: run {missing[0]!r} has "
                f"{_source_word(reference)} but no {_source_word(source)} (runs "
                f"with {_source_word(source)}: {_run_list(by_run)})."
            )
    return names


def _source_word(source):
    return source if source in ("responses", "features") else f"features {source!r}"


def _run_list(names):
    names = sorted(names, key=_natural_key)
    text = ", ".join(repr(n) for n in names[:6])
    return text + (f", ... ({len(names)} runs)" if len(names) > 6 else "")


def _read_arrays(path):
    """``{key: ndarray}`` of one file (``None`` for the array of a ``.npy``)."""
    suffix = _suffix(path)
    try:
        if suffix == ".npy":
            return {None: np.load(path, allow_pickle=False)}
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        return _read_hdf5(path)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(
            f"cannot read {str(path)!r}: {reason or type(exc).__name__}"
        ) from exc


def _read_hdf5(path):
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"reading the HDF5 file {str(path)!r} needs h5py: pip install h5py"
        ) from None
    arrays = {}
    with h5py.File(path, "r") as file:

        def visit(name, obj):
            if (
                isinstance(obj, h5py.Dataset)
                and obj.ndim >= 1
                and obj.dtype.kind in "biuf"
            ):
                arrays[name] = obj[()]

        file.visititems(visit)
    return arrays


def _pick_response(arrays, key, path):
    if key is not None:
        if key not in arrays:
            raise ValueError(
                f"responses file {str(path)!r} has no array {key!r}; it holds "
                f"{_key_list(arrays)}."
            )
        return arrays[key]
    if len(arrays) != 1:
        raise ValueError(
            f"responses file {str(path)!r} holds {len(arrays)} arrays "
            f"({_key_list(arrays)}); name the one to read with response_key."
        )
    return next(iter(arrays.values()))


def _space_name(source, key, named, n_arrays):
    if key is None:
        return source
    if named and n_arrays == 1:
        return source
    return f"{source}/{key}" if named else key


def _as_2d(arr, what, path):
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"{what} in {str(path)!r} must be numeric, got dtype {arr.dtype}."
        )
    if arr.ndim == 1:
        arr = arr[:, np.newaxis]
    if arr.ndim != 2:
        raise ValueError(
            f"{what} in {str(path)!r} must be 2-D (n_samples, n_columns) or 1-D, got "
            f"shape {arr.shape}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{what} in {str(path)!r} is empty (shape {arr.shape}).")
    return arr


def _aligned_length(run, feature_lengths, n_responses, policy, max_mismatch, files):
    lengths = dict(feature_lengths)
    if n_responses is not None:
        lengths["responses"] = n_responses
    low, high = min(lengths.values()), max(lengths.values())
    if low == high:
        return low, None
    text = ", ".join(f"{name} {n}" for name, n in lengths.items())
    if policy == "error":
        raise ValueError(
            f"run {run!r}: lengths differ ({text} samples) and "
            "length_mismatch='error'; use 'trim' or 'pad' to align them."
        )
    if high - low > max_mismatch:
        raise ValueError(
            f"run {run!r}: lengths differ by {high - low} samples ({text}), more "
            f"than max_mismatch={max_mismatch}; check the files of this run "
            f"({', '.join(sorted(set(files.values())))})."
        )
    if policy == "trim":
        return low, f"trimmed to {low} samples"
    target = n_responses if n_responses is not None else high
    return target, f"features padded/trimmed to {target} samples"


def _fit_length(arr, n):
    if arr.shape[0] >= n:
        return arr[:n]
    return np.pad(arr, ((0, n - arr.shape[0]), (0, 0)), mode="edge")


def _check_finite_features(X_run, run, layout, files):
    finite = np.isfinite(X_run)
    if finite.all():
        return
    start = 0
    for space, width in layout:
        bad = ~finite[:, start : start + width]
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            raise ValueError(
                f"run {run!r}: features {space!r} contain NaN or inf at "
                f"{rows.size} sample(s) (first: sample {rows[0]}); fill or drop "
                "them before fitting."
            )
        start += width


def _layout_text(layout):
    return "{" + ", ".join(f"{name!r}: {width}" for name, width in layout) + "}"


def _existing_file(path, what):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {str(path)!r}.")
    return path


def _is_data_file(path):
    return path.is_file() and _suffix(path) in SUFFIXES


def _suffix(path):
    return Path(path).suffix.lower()


def _natural_key(name):
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", str(name))
        if part
    ]


def _key_list(arrays):
    keys = [repr(k) if k is not None else "one unnamed array" for k in arrays]
    return ", ".join(keys) if keys else "no numeric array"


def _describe_shapes(shapes):
    return ", ".join(f"{k!r} {tuple(s)}" for k, s in shapes.items())


def _same_series(saved, current):
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(str(saved)), Version(str(current))
    except InvalidVersion:
        return False
    return a.release[:2] == b.release[:2]
