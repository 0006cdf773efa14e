"""Loading per-run feature and response files into ``X, y, groups``; maps out.

Researchers keep one features file and one responses file per run (episode,
story, recording), whose lengths often differ by a few samples. Features are
NumPy ``.npy``/``.npz`` or HDF5 ``.h5``/``.hdf5`` files; responses are such
arrays or neuroimaging data: 4-D NIfTI runs with a brain mask (or a nilearn
masker), GIFTI series on a surface mesh, CIFTI dense series, and MEG/EEG data
as MNE ``Raw``/``Epochs`` objects or ``.fif`` files. :func:`load_runs` pairs
the runs by name, aligns their lengths with an explicit policy, optionally
z-scores every run, and returns the concatenated ``X``, ``y`` and ``groups``
with the ``feature_spaces`` named after the files' keys, the sampling rate and
the :class:`ResponseSpace` of the targets. :func:`save_map` writes per-target
results (a Pearson r per voxel) back into that space as a NIfTI, GIFTI, CIFTI
or MNE file, and :func:`load_map` reads one back. :func:`load_repeats` reads
the responses to repeated presentations used for noise ceilings, and
:func:`save_model` / :func:`load_model` store a fitted model with the brainenc
version that saved it.

Arrays are read with ``allow_pickle=False``: loading data never executes code.
HDF5 files need ``h5py``; NIfTI, GIFTI and CIFTI files need nibabel (and
nilearn for a masker), MNE data need mne: the ``neuro`` extra
(``pip install "brainenc[neuro]"``), imported only when such data are read or
written.
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

from . import _neuro
from ._neuro import ResponseSpace

__all__ = [
    "RESPONSE_SUFFIXES",
    "SUFFIXES",
    "ResponseSpace",
    "load_map",
    "load_model",
    "load_repeats",
    "load_runs",
    "save_map",
    "save_model",
    "zscore_runs",
]

#: File name endings of the array files read by :func:`load_runs` (features
#: and responses) and :func:`load_repeats`.
SUFFIXES = (".npy", ".npz", ".h5", ".hdf5", ".hf5")

#: File name endings of response files: arrays, NIfTI, GIFTI, CIFTI, MNE .fif.
RESPONSE_SUFFIXES = SUFFIXES + tuple(
    ending for endings in _neuro.SERIES_ENDINGS.values() for ending in endings
)

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
    mask=None,
    sfreq=None,
    run_pattern=None,
    length_mismatch="trim",
    max_mismatch=5,
    zscore=None,
    allow_nan_responses=False,
    dtype="float32",
    callback=None,
):
    """Load per-run feature and response files into ``X``, ``y`` and ``groups``.

    Every run has its own files, paired across sources by run name (the file
    name without its ending, or the first group of ``run_pattern``). Inside
    a run, the features and responses are aligned at their first sample;
    lengths that differ by at most ``max_mismatch`` samples at the end are
    reconciled by ``length_mismatch``.

    Responses may be arrays or neuroimaging data, recognised by their file
    names: 4-D NIfTI runs (``.nii``, ``.nii.gz``) with a ``mask``, GIFTI
    series (``.func.gii``, ``.gii``), CIFTI series (``.dtseries.nii``,
    ``.ptseries.nii``) and MNE Raw files (``.fif``), or MNE objects. Their
    targets (in-mask voxels in C order, vertices, grayordinates, good data
    channels) are the columns of ``y``, and ``data.space`` remembers where
    they live, so that :func:`save_map` writes per-target results back as a
    map.

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
    responses : path-like, sequence of path-like, MNE object or list of them, \
            default=None
        Response files, one per run, paired with the features by run name:

        - arrays (``.npy``, ``.npz``, ``.h5``): each holding one array of
          shape ``(n_samples, n_targets)`` (or ``(n_samples,)``, one target),
          or several with ``response_key`` naming the one to read;
        - 4-D NIfTI images (``.nii``, ``.nii.gz``), time along the 4th axis,
          on the grid of ``mask`` (same shape and affine);
        - GIFTI series (``.func.gii``): one data array per time point (or one
          vertices x time points array), every run on the same mesh;
        - CIFTI-2 series (``.dtseries.nii``, ``.ptseries.nii``) with the same
          brain models in every run;
        - MNE Raw files (``.fif``).

        An ``mne.Epochs`` object makes every epoch a run, and a list of
        ``mne.io.Raw`` objects one run per object; MNE objects have no file
        names, so they are paired with the features' runs in order (natural
        order of names, or the order of ``runs``) and must be as many. Their
        targets are the good data channels (MEG, EEG, sEEG, ECoG, DBS,
        fNIRS; ``info["bads"]`` left out). ``None`` loads the features only
        (``y`` is None), e.g. to predict.
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
    mask : path-like, nibabel image, nilearn masker or array-like, default=None
        Which voxels or vertices are the targets. For NIfTI responses
        (required there): a 3-D mask image whose non-zero voxels are the
        targets, in C order (the order of ``mask_data != 0`` indexing and of
        nilearn's ``NiftiMasker``), or a nilearn masker (``NiftiMasker``,
        ``NiftiLabelsMasker``, ...), fitted on the first run when it is not
        fitted, whose ``transform`` gives the targets. For GIFTI responses:
        one value per vertex (an array, a ``.npy`` or a ``.gii`` file), the
        non-zero vertices being the targets (e.g. leaving out the medial
        wall); ``None`` takes every vertex. For array responses: the mask
        image (or fitted masker) whose targets the columns already are, in
        mask order, so that the results can be written as brain maps.
    sfreq : float, default=None
        Sampling rate of the runs in Hz (``1 / TR`` for fMRI), returned as
        ``data.sfreq``. ``None`` takes it from the files: the TR of the NIfTI
        headers, the series step of CIFTI files, ``info["sfreq"]`` of MNE
        data (None for arrays and GIFTI files, which do not say it).
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
    callback : callable, default=None
        Called as ``callback(n_done, n_runs)`` after every run is loaded (the
        progress callable of brainenc, e.g. a progress bar).

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
        - ``sfreq`` : float or None, the sampling rate in Hz (see ``sfreq``),
          for :func:`~brainenc.delays_from_times`.
        - ``space`` : :class:`ResponseSpace` or None, where the targets live
          (the mask or masker, the mesh, the brain models, the channels),
          for :func:`save_map`; None without responses.

    Raises
    ------
    FileNotFoundError
        If a path does not exist, or no data file is found for a source.
    ValueError
        If the runs of the sources do not match, a run's lengths cannot be
        aligned, a file holds an unreadable, non-numeric or wrongly shaped
        array, an image is not on the mask's grid (the message names the
        file and both shapes or affines), the runs' sampling rates differ,
        the feature spaces differ between runs, or the features hold NaN or
        inf.
    ImportError
        If neuroimaging responses are given without nibabel (or nilearn,
        mne) installed: ``pip install "brainenc[neuro]"``.

    See Also
    --------
    zscore_runs : The per-run z-scoring.
    load_repeats : Responses to repeated presentations, for noise ceilings.
    save_map : Per-target results back into the responses' space.

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

    4-D NIfTI runs and a brain mask (synthetic images written with nibabel):

    >>> import nibabel as nib
    >>> affine = np.diag([3.0, 3.0, 3.0, 1.0])
    >>> inside = np.zeros((4, 5, 3), dtype=np.uint8)
    >>> inside[1:3, 1:4, 1] = 1  # 6 voxels
    >>> nib.save(nib.Nifti1Image(inside, affine), folder / "mask.nii.gz")
    >>> for run, n in [("run-1", 50), ("run-2", 40)]:
    ...     bold = nib.Nifti1Image(rng.random((4, 5, 3, n), dtype=np.float32), affine)
    ...     bold.header.set_zooms((3.0, 3.0, 3.0, 2.0))  # TR 2 s
    ...     nib.save(bold, folder / f"{run}_bold.nii.gz")
    >>> data = load_runs(folder / "*_feat.npz", folder / "run-*_bold.nii.gz",
    ...                  mask=folder / "mask.nii.gz", run_pattern=r"run-\\d+")
    >>> data.y.shape, data.sfreq, data.space
    ((90, 6), 0.5, ResponseSpace(kind='volume', n_targets=6))
    """
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
    if sfreq is not None and not (
        isinstance(sfreq, (int, float, np.number))
        and not isinstance(sfreq, bool)
        and np.isfinite(sfreq)
        and sfreq > 0
    ):
        raise ValueError(f"sfreq must be a positive number of Hz, got {sfreq!r}.")
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
    response_runs = None
    if responses is not None:
        response_runs = _Responses(
            responses, mask=mask, key=response_key, pattern=pattern
        )
    run_names = _select_runs(
        runs, feature_files, None if response_runs is None else response_runs.by_run
    )
    if response_runs is not None and response_runs.by_run is None:
        response_runs.pair(run_names)

    lengths, adjusted, files, n_per_run, rates = {}, {}, {}, {}, {}
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
        if response_runs is not None:
            y_run, run_files["responses"], rates[run] = response_runs.read(run, dtype)
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
            callback(i + 1, len(run_names))

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
        sfreq=float(sfreq) if sfreq is not None else _common_rate(rates, files),
        space=None if response_runs is None else response_runs.space,
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


def save_map(values, path, *, like, fill_value=0.0, dtype="float32", names=None):
    """Write per-target values back into the responses' space as a map.

    A Pearson r (or any value) per target becomes an image that neuroimaging
    viewers open: a NIfTI volume with the mask's affine and header, a GIFTI
    file on the responses' mesh, a CIFTI dense (or parcellated) scalar file
    with the responses' brain models, or an MNE evoked file with one "time
    point" per map for MEG/EEG channels.

    .. versionadded:: 0.1

    Parameters
    ----------
    values : array-like of shape (n_targets,) or (n_maps, n_targets)
        One value per target, in the order of the columns of ``y`` (what
        :func:`brainenc.pearson_r` returns), or several maps (a 4-D NIfTI
        image, one GIFTI data array or CIFTI map each).
    path : path-like
        File to write; its ending must suit the space: ``.nii.gz`` or
        ``.nii`` (volume), ``.func.gii`` or ``.gii`` (surface),
        ``.dscalar.nii`` (``.pscalar.nii`` for parcels; CIFTI), ``-ave.fif``
        (MEG/EEG), ``.npy`` (plain arrays).
    like : Bunch, ResponseSpace, path-like, image, masker or MNE object
        Where the values go: the data returned by :func:`load_runs` (or its
        ``space``); a mask image (path or nibabel image) whose non-zero
        voxels, in C order, are the targets; a fitted nilearn masker (its
        ``inverse_transform`` makes the image); a GIFTI or CIFTI file or
        image of the responses; MNE ``Info``, ``Raw``, ``Epochs`` or
        ``Evoked`` (their good data channels).
    fill_value : float, default=0.0
        Value written where there is no target: voxels outside the mask,
        vertices outside a surface mask. Use ``numpy.nan`` to mark them as
        missing rather than 0 (CIFTI and MEG/EEG maps have no such places).
    dtype : str or numpy dtype, default="float32"
        Data type stored (float32: what viewers expect; a float64 value is
        rounded to the nearest float32). ``"float64"`` keeps every digit.
    names : sequence of str, default=None
        Names of the maps (GIFTI data array names, CIFTI map names, the MNE
        comment); ``None`` numbers them.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If ``values`` does not hold one value per target, or ``path`` has an
        ending that does not suit the space.
    TypeError
        If ``like`` describes no space brainenc knows.

    See Also
    --------
    load_map : Read the values of a map back, in target order.
    brainenc.plotting.plot_brain_map : A figure of the map.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import nibabel as nib
    >>> import numpy as np
    >>> from brainenc.io import load_map, save_map
    >>> folder = Path(tempfile.mkdtemp())
    >>> inside = np.zeros((3, 3, 2), dtype=np.uint8)
    >>> inside[0, 1, 0] = inside[2, 2, 1] = inside[1, 0, 1] = 1
    >>> mask = nib.Nifti1Image(inside, np.diag([2.0, 2.0, 2.0, 1.0]))
    >>> r = np.array([0.25, -0.5, 0.75])  # one value per voxel, in C order
    >>> path = save_map(r, folder / "r.nii.gz", like=mask)
    >>> volume = nib.load(path).get_fdata()
    >>> volume[inside != 0], volume[1, 1, 1]  # C order inside; 0 outside
    (array([ 0.25, -0.5 ,  0.75]), np.float64(0.0))
    >>> load_map(path, like=mask)
    array([ 0.25, -0.5 ,  0.75], dtype=float32)
    """
    space = _neuro.space_from_like(like)
    path = Path(path)
    if not path.name.lower().endswith(space._map_endings):
        raise ValueError(
            f"path must end in {' or '.join(space._map_endings)} for a map of "
            f"{space.kind} responses, got {str(path)!r}."
        )
    image = space.to_image(values, fill_value=fill_value, dtype=dtype, names=names)
    space._write(image, path)
    return path


def load_map(path, *, like):
    """Read a map back as per-target values, in the order of ``y``'s columns.

    The inverse of :func:`save_map`: the values at the targets of ``like``
    (in-mask voxels in C order, vertices, grayordinates, channels), checked
    to be on the same grid (shape and affine), mesh or channels.

    .. versionadded:: 0.1

    Parameters
    ----------
    path : path-like
        A map file (NIfTI, GIFTI, CIFTI scalar, MNE evoked, ``.npy``), or an
        image object of the space.
    like : Bunch, ResponseSpace, path-like, image, masker or MNE object
        The space of the targets, as for :func:`save_map`.

    Returns
    -------
    values : ndarray of shape (n_targets,) or (n_maps, n_targets)
        One value per target (several maps give several rows).

    Raises
    ------
    ValueError
        If the map is not on the space's grid (shape, affine), mesh or
        channels; the message names the file and both shapes.

    See Also
    --------
    save_map : Write per-target values as a map.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import nibabel as nib
    >>> import numpy as np
    >>> from brainenc.io import load_map
    >>> folder = Path(tempfile.mkdtemp())
    >>> mask = nib.Nifti1Image(np.ones((2, 2, 1), np.uint8), np.eye(4))
    >>> stat = nib.Nifti1Image(np.arange(4.0).reshape(2, 2, 1), np.eye(4))
    >>> nib.save(stat, folder / "stat.nii.gz")
    >>> load_map(folder / "stat.nii.gz", like=mask)
    array([0., 1., 2., 3.])
    """
    space = _neuro.space_from_like(like)
    return space.from_image(path)


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


class _Responses:
    """The response runs of :func:`load_runs` and the space of their targets.

    Files are paired with the features by run name (``by_run``); MNE objects,
    which have no names, in order (``pair``).
    """

    def __init__(self, responses, *, mask, key, pattern):
        self.mask, self.key = mask, key
        self.space = None
        self.sfreq = None
        self.epochs = False
        objects = _mne_objects(responses)
        if objects is not None:
            if mask is not None:
                raise ValueError(
                    "mask applies to NIfTI, GIFTI and array responses, not to MNE "
                    "data (drop channels with inst.pick or info['bads'])."
                )
            self.kind, self.by_run = "mne", None
            if _neuro.is_epochs(objects[0]):
                if len(objects) > 1:
                    raise ValueError(
                        "responses: give one Epochs object (its epochs are the runs) "
                        f"or a list of Raw objects (one per run), got {len(objects)} "
                        "Epochs objects."
                    )
                self.space, self.items, self.sfreq = _neuro.epochs_runs(
                    objects[0], np.float64
                )
                self.epochs = True
                self.labels = [f"epoch {i}" for i in range(len(self.items))]
            else:
                self.items = objects
                self.labels = [
                    f"{type(obj).__name__} {i}" for i, obj in enumerate(objects)
                ]
            return
        self.by_run = _run_files(responses, "responses", pattern, RESPONSE_SUFFIXES)
        kinds = {}
        for path in self.by_run.values():
            kinds.setdefault(_neuro.series_kind(path), path)
        if len(kinds) > 1:
            (kind_a, a), (kind_b, b) = list(kinds.items())[:2]
            raise ValueError(
                f"responses mix file types: {str(a)!r} ({_KIND_WORDS[kind_a]}) and "
                f"{str(b)!r} ({_KIND_WORDS[kind_b]}); give one kind of file."
            )
        self.kind = next(iter(kinds))
        if key is not None and self.kind is not None:
            raise ValueError(
                f"response_key names an array of .npz/.h5 response files; the "
                f"responses are {_KIND_WORDS[self.kind]} files."
            )

    def pair(self, run_names):
        """Pair MNE objects with the features' runs, in order."""
        if len(self.items) != len(run_names):
            what = (
                f"an Epochs object of {len(self.items)} epochs"
                if self.epochs
                else f"{len(self.items)} Raw objects"
            )
            raise ValueError(
                f"mismatched runs: the responses are {what}, paired in order with "
                f"the features' runs, but there are {len(run_names)} runs of "
                f"features ({_run_list(run_names)})."
            )
        self.by_run = dict(zip(run_names, range(len(run_names)), strict=True))

    def read(self, run, dtype):
        """``(y of the run, its label for messages, its sampling rate or None)``."""
        item = self.by_run[run]
        if self.kind == "mne":
            label = self.labels[item]
            if self.epochs:
                return self.items[item], label, self.sfreq
            obj = self.items[item]
            if self.space is None:
                self.space = _neuro.space_for_series(
                    "sensors", obj, None, what="responses"
                )
            y, rate = self.space._read_run(obj, dtype=dtype)
            return y, label, rate
        label = str(item)
        if self.kind is None:  # arrays
            y = _as_2d(
                _pick_response(_read_arrays(item), self.key, item),
                f"run {run!r}: responses",
                item,
            )
            if self.space is None:
                if self.mask is None:
                    self.space = ResponseSpace(y.shape[1])
                else:
                    self.space = _neuro.volume_space(self.mask)
                    if isinstance(self.space, _neuro._MaskerSpace):
                        self.space._check_fitted()
            self.space._check_n_targets(y.shape[1], f"responses file {label!r}")
            return y, label, None
        if self.space is None:
            self.space = _neuro.space_for_series(
                self.kind, item, self.mask, what="responses"
            )
        y, rate = self.space._read_run(item, dtype=dtype)
        return y, label, rate


_KIND_WORDS = {
    None: "array",
    "volume": "NIfTI",
    "surface": "GIFTI",
    "cifti": "CIFTI",
    "sensors": "MNE .fif",
}


def _mne_objects(responses):
    """The MNE objects given as responses (one, or a list), else None."""
    if _neuro.is_mne(responses):
        return [responses]
    if isinstance(responses, (list, tuple)) and responses:
        flags = [_neuro.is_mne(item) for item in responses]
        if all(flags):
            return list(responses)
        if any(flags):
            raise TypeError(
                "responses mix MNE objects and other items; give MNE objects "
                "only, or file paths only."
            )
    return None


def _common_rate(rates, files):
    """The one sampling rate of the runs (None when no file says it)."""
    known = {run: rate for run, rate in rates.items() if rate is not None}
    if not known:
        return None
    first = next(iter(known))
    for run, rate in known.items():
        if not np.isclose(rate, known[first], rtol=1e-6, atol=0):
            raise ValueError(
                f"the runs have different sampling rates: run {first!r} "
                f"({files[first]['responses']!r}) {known[first]:.6g} Hz, run "
                f"{run!r} ({files[run]['responses']!r}) {rate:.6g} Hz; resample "
                "them to one rate, or give sfreq= if the headers are wrong."
            )
    return float(known[first])


def _run_files(spec, what, pattern, endings=SUFFIXES):
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
    kinds = "/".join(endings)
    for item in specs:
        try:
            text = os.fspath(item)
        except TypeError:
            raise TypeError(
                f"{what} must be paths or glob patterns, got an item of type "
                f"{type(item).__name__}."
            ) from None
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if _is_data_file(p, endings))
            if not found:
                raise FileNotFoundError(
                    f"{what}: no {kinds} file in directory {text!r}."
                )
            paths.extend(found)
        elif path.is_file():
            if not _is_data_file(path, endings):
                raise ValueError(f"{what}: {text!r} is not a {kinds} file.")
            paths.append(path)
        elif glob.has_magic(text):
            found = sorted(
                Path(p) for p in glob.glob(text) if _is_data_file(Path(p), endings)
            )
            if not found:
                raise FileNotFoundError(f"{what}: no {kinds} file matches {text!r}.")
            paths.extend(found)
        else:
            raise FileNotFoundError(f"{what} file not found: {text!r}.")
    by_run = {}
    for path in paths:
        run = _run_name(path, pattern, what, endings)
        if run in by_run and by_run[run] != path:
            raise ValueError(
                f"{what}: two files for run {run!r}: {str(by_run[run])!r} and "
                f"{str(path)!r} (give each feature space its own NAME=PATH, or a "
                "run_pattern that tells the runs apart)."
            )
        by_run[run] = path
    return by_run


def _run_name(path, pattern, what, endings):
    name = path.name
    if pattern is None:
        return name[: -len(_ending(path, endings))]
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


def _is_data_file(path, endings=SUFFIXES):
    return path.is_file() and _ending(path, endings) is not None


def _ending(path, endings):
    """The (longest) ending of ``endings`` that the file name has, or None."""
    name = Path(path).name.lower()
    matches = [ending for ending in endings if name.endswith(ending)]
    return max(matches, key=len) if matches else None


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
