"""The neuroimaging formats behind :mod:`brainenc.io`: where the targets live.

A :class:`ResponseSpace` says where the response targets of a dataset live
(voxels of a brain mask, vertices of a surface mesh, grayordinates of a CIFTI
file, MEG/EEG channels, or plain array columns), reads every run of responses
into an ``(n_samples, n_targets)`` array, and writes per-target values back
into that space as a map. nibabel, nilearn and MNE are imported inside the
functions that use them, never when :mod:`brainenc` or :mod:`brainenc.io` is
imported (the ``neuro`` extra: ``pip install "brainenc[neuro]"``).
"""

import os
from pathlib import Path

import numpy as np

#: File endings of response series, by kind (longest endings first).
SERIES_ENDINGS = {
    "cifti": (".dtseries.nii", ".ptseries.nii"),
    "volume": (".nii.gz", ".nii"),
    "surface": (".func.gii", ".gii"),
    "sensors": (".fif", ".fif.gz"),
}

_INSTALL = 'pip install "brainenc[neuro]"'
# Bytes of one chunk of volumes read at a time from a 4-D NIfTI file.
_CHUNK_BYTES = 256 * 2**20
# Largest difference (mm) between two affines that are the same grid.
_AFFINE_ATOL = 1e-3


def series_kind(path):
    """The kind of a response file from its name, or None for array files."""
    name = Path(path).name.lower()
    for kind, endings in SERIES_ENDINGS.items():
        if name.endswith(endings):
            return kind
    return None


def series_ending(path):
    """The ending of a response series file (``".nii.gz"``), or None."""
    name = Path(path).name.lower()
    for endings in SERIES_ENDINGS.values():
        for ending in endings:
            if name.endswith(ending):
                return ending
    return None


def needs(module, what):
    """Import ``module`` (nibabel, nilearn, mne) or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs {module}: {_INSTALL}") from None


class ResponseSpace:
    """Where the response targets live, to write per-target values there.

    :func:`brainenc.io.load_runs` returns one as ``data.space``; give it (or
    the whole ``data``) to :func:`brainenc.io.save_map` as ``like``. Built
    from a brain mask (``kind="volume"``), a nilearn masker (``"volume"``),
    a GIFTI series (``"surface"``), a CIFTI series (``"cifti"``), MNE data
    (``"sensors"``) or plain arrays (``"array"``).

    .. versionadded:: 0.1

    Attributes
    ----------
    kind : {"array", "volume", "surface", "cifti", "sensors"}
        What the targets are.
    n_targets : int
        Number of targets (in-mask voxels, vertices, grayordinates,
        channels or columns), in the order of the columns of ``y``.
    mask : object or None
        What chose the targets: the mask image (nibabel) or the nilearn
        masker of a volume (a fitted copy, when the masker given was not
        fitted), the per-vertex boolean mask of a surface, the
        channel names of MEG/EEG data; None where every target of the files
        is used.
    map_ending : str
        File ending of the maps written in this space (``".nii.gz"``,
        ``".func.gii"``, ``".dscalar.nii"``, ``"-ave.fif"``, ``".npy"``).

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.io import ResponseSpace
    >>> space = ResponseSpace(3)
    >>> space
    ResponseSpace(kind='array', n_targets=3)
    >>> space.to_image(np.array([0.1, 0.2, 0.3])).shape
    (3,)
    """

    kind = "array"
    map_ending = ".npy"
    _map_endings = (".npy",)

    def __init__(self, n_targets):
        self.n_targets = int(n_targets)
        self.mask = None

    def __repr__(self):
        return f"ResponseSpace(kind={self.kind!r}, n_targets={self.n_targets})"

    def to_image(self, values, *, fill_value=0.0, dtype="float32", names=None):
        """Per-target values as an image of this space (not written).

        Parameters
        ----------
        values : array-like of shape (n_targets,) or (n_maps, n_targets)
            One value per target (or several maps), in the order of the
            columns of ``y``.
        fill_value : float, default=0.0
            Value of the places that are not targets (voxels outside the
            mask, vertices left out); ``numpy.nan`` marks them as missing.
        dtype : str or numpy dtype, default="float32"
            Data type stored.
        names : sequence of str, default=None
            Names of the maps (CIFTI map names, GIFTI data array names,
            MNE comments); ``None`` numbers them.

        Returns
        -------
        image : object
            A nibabel ``Nifti1Image``, ``GiftiImage`` or ``Cifti2Image``, an
            ``mne.Evoked``, or an ndarray for the ``"array"`` kind.
        """
        values, names = self._check_values(values, names)
        return self._image(values, fill_value=fill_value, dtype=dtype, names=names)

    def from_image(self, image):
        """The per-target values of an image of this space.

        Parameters
        ----------
        image : object
            An image of this space (what :meth:`to_image` returns) or the path
            of a map file.

        Returns
        -------
        values : ndarray of shape (n_targets,) or (n_maps, n_targets)
            The values at the targets, in the order of the columns of ``y``.
        """
        what = "the image"
        if isinstance(image, (str, os.PathLike)):
            what = f"map {str(image)!r}"
            image = self._read(Path(image))
        values = self._values(image, what)
        return values[0] if values.shape[0] == 1 else values

    def describe(self):
        """JSON-serialisable description (for summaries and model files)."""
        return {"kind": self.kind, "n_targets": self.n_targets}

    # -- what each kind implements (the subclasses also read a run of
    # responses, ``_read_run``; array files are read by brainenc.io)

    def _image(self, values, *, fill_value, dtype, names):
        out = np.asarray(values, dtype=dtype)
        return out[0] if out.shape[0] == 1 else out

    def _values(self, image, what):
        arr = np.asarray(image)
        arr = arr[np.newaxis] if arr.ndim == 1 else arr
        if arr.ndim != 2 or arr.shape[1] != self.n_targets:
            raise ValueError(
                f"{what} must hold {self.n_targets} values per map, got shape "
                f"{np.shape(image)}."
            )
        return arr

    def _write(self, image, path):
        if hasattr(image, "to_filename"):  # nibabel images
            image.to_filename(str(path))
        else:
            np.save(path, image)

    def _read(self, path):
        return np.load(path, allow_pickle=False)

    # -- shared

    def _check_n_targets(self, n, what):
        if n != self.n_targets:
            raise ValueError(
                f"{what} has {n} targets but the mask has {self.n_targets} "
                f"{self._unit}; the columns of the responses must be the mask's "
                "targets in mask order."
            )

    _unit = "targets"

    def _check_values(self, values, names):
        arr = np.asarray(values)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"values must be numeric, got dtype {arr.dtype}.")
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.n_targets:
            raise ValueError(
                f"values must have shape ({self.n_targets},) or (n_maps, "
                f"{self.n_targets}): one value per target of the {self.kind} "
                f"space ({self.n_targets} {self._unit}), got shape {arr.shape}."
            )
        arr = arr[np.newaxis] if arr.ndim == 1 else arr
        if names is None:
            names = [f"map {k}" for k in range(arr.shape[0])]
        names = [str(name) for name in names]
        if len(names) != arr.shape[0]:
            raise ValueError(
                f"names must name the {arr.shape[0]} map(s), got {len(names)} name(s)."
            )
        return arr, names


# --------------------------------------------------------------------------
# volumes: a mask image, or a nilearn masker


class _VolumeSpace(ResponseSpace):
    """Voxels of a 3-D mask image (non-zero, finite), in C order."""

    kind = "volume"
    map_ending = ".nii.gz"
    _map_endings = (".nii.gz", ".nii")
    _unit = "voxels in the mask"

    def __init__(self, mask_img, source=None):
        data = np.asanyarray(mask_img.dataobj)
        if data.ndim == 4 and data.shape[3] == 1:
            data = data[..., 0]
        label = _label(source, "the mask image")
        if data.ndim != 3:
            raise ValueError(
                f"mask {label} must be a 3-D image, got shape {data.shape}."
            )
        if data.dtype.kind not in "biuf":
            raise ValueError(f"mask {label} must be numeric, got dtype {data.dtype}.")
        inside = np.isfinite(data) & (data != 0)
        if not inside.any():
            raise ValueError(f"mask {label} holds no voxel (every value is 0).")
        self.mask = mask_img
        self.source = None if source is None else str(source)
        self.inside = inside
        self.shape = inside.shape
        self.affine = np.asarray(mask_img.affine, dtype=np.float64)
        self.header = mask_img.header
        self.n_targets = int(inside.sum())
        self.label = label

    def describe(self):
        return {
            "kind": self.kind,
            "n_targets": self.n_targets,
            "mask": self.source,
            "shape": list(self.shape),
            "affine": self.affine.tolist(),
        }

    def _read_run(self, path, *, dtype):
        nib = needs("nibabel", "reading NIfTI responses")
        img = _load_image(nib, path, keep_file_open=True)
        if len(img.shape) != 4:
            raise ValueError(
                f"responses file {str(path)!r} must be a 4-D image (x, y, z, "
                f"time), got shape {img.shape}."
            )
        self._check_grid(img, f"responses file {str(path)!r}", img.shape)
        n_volumes = img.shape[3]
        out = np.empty((n_volumes, self.n_targets), dtype=dtype)
        per_volume = max(1, int(np.prod(self.shape)) * 8)
        step = max(1, _CHUNK_BYTES // per_volume)
        for start in range(0, n_volumes, step):
            stop = min(n_volumes, start + step)
            chunk = np.asanyarray(img.dataobj[..., start:stop])
            out[start:stop] = chunk[self.inside].T
        return out, _nifti_sfreq(img)

    def _check_grid(self, img, what, full_shape):
        if tuple(img.shape[:3]) != self.shape:
            raise ValueError(
                f"{what} has shape {tuple(full_shape)}, whose spatial shape "
                f"{tuple(img.shape[:3])} differs from the mask's {self.shape} "
                f"({self.label}); resample one onto the other first (e.g. "
                "nilearn.image.resample_to_img)."
            )
        diff = np.abs(np.asarray(img.affine, dtype=np.float64) - self.affine).max()
        if diff > _AFFINE_ATOL:
            raise ValueError(
                f"{what} has another affine than the mask ({self.label}; largest "
                f"difference {diff:.4g}): the voxels are not the same places. "
                f"Image affine {_affine_text(img.affine)}, mask affine "
                f"{_affine_text(self.affine)}."
            )

    def _image(self, values, *, fill_value, dtype, names):
        nib = needs("nibabel", "writing NIfTI maps")
        n_maps = values.shape[0]
        volume = np.full((*self.shape, n_maps), fill_value, dtype=dtype)
        volume[self.inside] = values.T
        if n_maps == 1:
            volume = volume[..., 0]
        header = self.header.copy()
        header.set_data_dtype(volume.dtype)
        header.set_intent("none")
        header["cal_min"] = header["cal_max"] = 0
        return nib.Nifti1Image(volume, self.affine, header=header)

    def _values(self, image, what):
        shape = tuple(image.shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"{what} must be a 3-D or 4-D image, got shape {shape}.")
        self._check_grid(image, what, shape)
        data = np.asanyarray(image.dataobj)
        data = data[..., np.newaxis] if data.ndim == 3 else data
        return data[self.inside].T

    def _read(self, path):
        return _load_image(needs("nibabel", "reading NIfTI maps"), path)


class _MaskerSpace(ResponseSpace):
    """The targets of a nilearn masker (NiftiMasker, NiftiLabelsMasker, ...)."""

    kind = "volume"
    map_ending = ".nii.gz"
    _map_endings = (".nii.gz", ".nii")

    def __init__(self, masker):
        self.mask = masker
        self.n_targets = None
        self._covered = None

    def describe(self):
        return {
            "kind": self.kind,
            "n_targets": self.n_targets,
            "masker": type(self.mask).__name__,
        }

    def _read_run(self, path, *, dtype):
        needs("nilearn", "reading NIfTI responses through a masker")
        if not _is_fitted(self.mask):
            # A masker given its mask or labels fits on them; one that computes
            # its mask from the data (NiftiMasker without mask_img) on the first
            # run.
            given = any(
                getattr(self.mask, name, None) is not None
                for name in ("mask_img", "labels_img", "maps_img")
            )
            # Fit a copy: the user's masker is left as it was given.
            from sklearn.base import clone

            self.mask = clone(self.mask)
            self.mask.fit() if given else self.mask.fit(str(path))
        try:
            y = np.asarray(self.mask.transform(str(path)))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"responses file {str(path)!r}: the {type(self.mask).__name__} "
                f"could not extract its signals: {_first_line(exc)}"
            ) from exc
        y = y[:, np.newaxis] if y.ndim == 1 else y
        if self.n_targets is None:
            self.n_targets = y.shape[1]
        nib = needs("nibabel", "reading NIfTI responses")
        return np.asarray(y, dtype=dtype), _nifti_sfreq(_load_image(nib, path))

    def _check_fitted(self):
        if not _is_fitted(self.mask):
            raise ValueError(
                f"like: the {type(self.mask).__name__} must be fitted (call its "
                "fit method, or pass the data returned by load_runs)."
            )
        if self.n_targets is None:
            self.n_targets = int(
                np.asarray(self.mask.transform(self._ones_image())).shape[-1]
            )

    def _ones_image(self):
        # An image covering the masker's field of view (to count its targets).
        nib = needs("nibabel", "writing NIfTI maps")
        reference = getattr(self.mask, "mask_img_", None)
        if reference is None:
            reference = getattr(self.mask, "labels_img_", None)
        if reference is None:
            reference = getattr(self.mask, "maps_img_", None)
        if reference is None:
            raise ValueError(
                f"like: cannot tell how many targets the "
                f"{type(self.mask).__name__} has; pass the data returned by "
                "load_runs instead."
            )
        shape = reference.shape[:3]
        return nib.Nifti1Image(np.ones((*shape, 2), np.float32), reference.affine)

    def _image(self, values, *, fill_value, dtype, names):
        nib = needs("nibabel", "writing NIfTI maps")
        image = self.mask.inverse_transform(np.asarray(values, dtype=np.float64))
        data = np.asarray(image.get_fdata(), dtype=dtype)
        if values.shape[0] == 1 and data.ndim == 4:
            data = data[..., 0]
        if fill_value != 0:
            if self._covered is None:
                ones = self.mask.inverse_transform(np.ones((1, self.n_targets)))
                covered = np.asarray(ones.get_fdata()) != 0
                self._covered = covered[..., 0] if covered.ndim == 4 else covered
            data[~self._covered] = fill_value
        header = image.header.copy()
        header.set_data_dtype(data.dtype)
        return nib.Nifti1Image(data, image.affine, header=header)

    def _values(self, image, what):
        arr = np.asarray(self.mask.transform(image), dtype=np.float64)
        return arr[np.newaxis] if arr.ndim == 1 else arr

    _read = _VolumeSpace._read


# --------------------------------------------------------------------------
# surfaces: GIFTI series on a mesh


class _SurfaceSpace(ResponseSpace):
    """Vertices of a GIFTI mesh (all, or those of a per-vertex mask)."""

    kind = "surface"
    map_ending = ".func.gii"
    _map_endings = (".func.gii", ".gii")
    _unit = "vertices in the mask"

    def __init__(
        self, n_vertices, *, meta=None, mask=None, source=None, mask_source=None
    ):
        self.n_vertices = int(n_vertices)
        self.meta = dict(meta or {})
        self.source = None if source is None else str(source)
        self.mask_source = None if mask_source is None else str(mask_source)
        self.mask = mask
        self.inside = (
            np.ones(self.n_vertices, bool) if mask is None else np.asarray(mask)
        )
        self.n_targets = int(self.inside.sum())

    @classmethod
    def from_series(cls, path, mask=None):
        nib = needs("nibabel", "reading GIFTI responses")
        img = _load_image(nib, path, kind="GIFTI")
        data = _gifti_data(img, path)
        inside = None
        if mask is not None:
            inside = _vertex_mask(mask, data.shape[0], nib)
        return cls(
            data.shape[0],
            meta=dict(img.meta),
            mask=inside,
            source=path,
            mask_source=mask if isinstance(mask, (str, os.PathLike)) else None,
        )

    @property
    def hemisphere(self):
        """``"left"``, ``"right"`` or None, from the GIFTI metadata."""
        structure = str(self.meta.get("AnatomicalStructurePrimary", "")).lower()
        if "left" in structure:
            return "left"
        if "right" in structure:
            return "right"
        return None

    def describe(self):
        return {
            "kind": self.kind,
            "n_targets": self.n_targets,
            "n_vertices": self.n_vertices,
            "hemisphere": self.hemisphere,
            "mask": self.mask_source,
        }

    def _read_run(self, path, *, dtype):
        nib = needs("nibabel", "reading GIFTI responses")
        data = _gifti_data(_load_image(nib, path, kind="GIFTI"), path)
        if data.shape[0] != self.n_vertices:
            raise ValueError(
                f"responses file {str(path)!r} has {data.shape[0]} vertices (data "
                f"shape {data.shape}, vertices x time points) but "
                f"{_label(self.source, 'the first run')} has {self.n_vertices}; "
                "every run must be on the same mesh."
            )
        return np.asarray(data[self.inside].T, dtype=dtype), None

    def _image(self, values, *, fill_value, dtype, names):
        nib = needs("nibabel", "writing GIFTI maps")
        dtype = np.dtype(dtype)
        darrays = []
        for row, name in zip(values, names, strict=True):
            full = np.full(self.n_vertices, fill_value, dtype=dtype)
            full[self.inside] = row
            darrays.append(
                nib.gifti.GiftiDataArray(
                    full,
                    intent="NIFTI_INTENT_NONE",
                    datatype=_gifti_type(dtype),
                    meta=nib.gifti.GiftiMetaData({"Name": name}),
                )
            )
        return nib.gifti.GiftiImage(
            darrays=darrays, meta=nib.gifti.GiftiMetaData(self.meta)
        )

    def _values(self, image, what):
        data = _gifti_data(image, what)
        if data.shape[0] != self.n_vertices:
            raise ValueError(
                f"{what} has {data.shape[0]} vertices but the surface has "
                f"{self.n_vertices}."
            )
        return data[self.inside].T

    def _write(self, image, path):
        needs("nibabel", "writing GIFTI maps").save(image, str(path))

    def _read(self, path):
        return _load_image(needs("nibabel", "reading GIFTI maps"), path, kind="GIFTI")


# --------------------------------------------------------------------------
# CIFTI: dense (grayordinates) or parcellated series


class _CiftiSpace(ResponseSpace):
    """Grayordinates (or parcels) of a CIFTI-2 series, in file order."""

    kind = "cifti"
    _unit = "grayordinates"

    def __init__(self, axis, source=None):
        self.axis = axis
        self.source = None if source is None else str(source)
        self.n_targets = len(axis)
        self.mask = None
        parcels = type(axis).__name__ == "ParcelsAxis"
        self.map_ending = ".pscalar.nii" if parcels else ".dscalar.nii"
        self._map_endings = (self.map_ending,)

    @classmethod
    def from_series(cls, path):
        nib = needs("nibabel", "reading CIFTI responses")
        img = _load_image(nib, path, kind="CIFTI-2")
        return cls(img.header.get_axis(1), source=path)

    def describe(self):
        return {
            "kind": self.kind,
            "n_targets": self.n_targets,
            "axis": type(self.axis).__name__,
        }

    def _read_run(self, path, *, dtype):
        nib = needs("nibabel", "reading CIFTI responses")
        img = _load_image(nib, path, kind="CIFTI-2")
        series, targets = img.header.get_axis(0), img.header.get_axis(1)
        if type(series).__name__ != "SeriesAxis":
            raise ValueError(
                f"responses file {str(path)!r} must be a CIFTI series (time along "
                f"its first axis), got a {type(series).__name__} first."
            )
        if targets != self.axis:
            raise ValueError(
                f"responses file {str(path)!r} has other grayordinates than "
                f"{_label(self.source, 'the first run')} (shape {img.shape}, "
                f"{len(targets)} against {len(self.axis)}); every run must have "
                "the same brain models."
            )
        sfreq = None
        if series.unit == "SECOND" and series.step > 0:
            sfreq = 1.0 / float(series.step)
        return np.asarray(img.dataobj, dtype=dtype), sfreq

    def _image(self, values, *, fill_value, dtype, names):
        needs("nibabel", "writing CIFTI maps")
        from nibabel import cifti2

        image = cifti2.Cifti2Image(
            np.asarray(values, dtype=dtype),
            header=(cifti2.ScalarAxis(list(names)), self.axis),
        )
        parcels = self.map_ending == ".pscalar.nii"
        image.nifti_header.set_intent(
            "ConnParcelScalr" if parcels else "ConnDenseScalar"
        )
        return image

    def _values(self, image, what):
        axis = image.header.get_axis(1)
        if axis != self.axis:
            raise ValueError(
                f"{what} has other grayordinates than the responses ({len(axis)} "
                f"against {len(self.axis)})."
            )
        return np.asarray(image.dataobj, dtype=np.float64)

    def _read(self, path):
        return _load_image(needs("nibabel", "reading CIFTI maps"), path, kind="CIFTI-2")


# --------------------------------------------------------------------------
# MEG/EEG: MNE Raw, Epochs, Evoked and their .fif files


class _SensorSpace(ResponseSpace):
    """The good data channels of MNE data (MEG, EEG, sEEG, ECoG, fNIRS)."""

    kind = "sensors"
    map_ending = "-ave.fif"
    _map_endings = ("-ave.fif", "_ave.fif", "-ave.fif.gz", "_ave.fif.gz")
    _unit = "channels"

    def __init__(self, info, picks):
        mne = needs("mne", "MNE responses")
        self.picks = np.asarray(picks, dtype=np.intp)
        self.info = mne.pick_info(info, self.picks)
        self.mask = list(self.info.ch_names)
        self.all_names = list(info.ch_names)
        self.n_targets = len(self.picks)

    @classmethod
    def from_info(cls, info, what):
        mne = needs("mne", "MNE responses")
        picks = mne.pick_types(
            info,
            meg=True,
            eeg=True,
            csd=True,
            seeg=True,
            ecog=True,
            dbs=True,
            fnirs=True,
            exclude="bads",
        )
        if len(picks) == 0:
            raise ValueError(
                f"{what} has no good data channel (MEG, EEG, sEEG, ECoG, DBS, "
                "fNIRS) among its channels "
                f"{list(info.ch_names)[:6]}{'...' if len(info.ch_names) > 6 else ''}."
            )
        return cls(info, picks)

    def describe(self):
        return {
            "kind": self.kind,
            "n_targets": self.n_targets,
            "ch_names": list(self.info.ch_names),
        }

    def _read_run(self, item, *, dtype):
        inst, what = item, f"({type(item).__name__})"
        if isinstance(item, (str, os.PathLike)):
            mne = needs("mne", "reading .fif responses")
            what = f"file {str(item)!r}"
            try:
                inst = mne.io.read_raw_fif(str(item), preload=False, verbose="error")
            except (ValueError, OSError) as exc:
                raise ValueError(
                    f"cannot read {str(item)!r} as MNE Raw data: {_first_line(exc)}"
                ) from exc
        self._check_channels(inst.info, what)
        data = inst.get_data(picks=self.picks)
        return np.asarray(data.T, dtype=dtype), float(inst.info["sfreq"])

    def _check_channels(self, info, what):
        if list(info.ch_names) != self.all_names:
            raise ValueError(
                f"responses {what} have channels {_names_text(info.ch_names)} but "
                f"the first run has {_names_text(self.all_names)}; every run must "
                "have the same channels."
            )
        bads = [name for name in info["bads"] if name in self.info.ch_names]
        if bads:
            raise ValueError(
                f"responses {what} mark channel(s) {bads} as bad, which the first "
                "run uses; mark the same bad channels in every run."
            )

    def _image(self, values, *, fill_value, dtype, names):
        mne = needs("mne", "writing MNE maps")
        # .fif files store evoked data in float32 whatever dtype says.
        stored = np.asarray(values, dtype=dtype).astype(np.float32)
        evoked = mne.EvokedArray(
            stored.astype(np.float64).T,
            self.info,
            tmin=0.0,
            nave=1,
            comment=", ".join(names),
            verbose="error",
        )
        return evoked

    def _values(self, image, what):
        if list(image.ch_names) != list(self.info.ch_names):
            raise ValueError(
                f"{what} has channels {_names_text(image.ch_names)} but the "
                f"responses have {_names_text(self.info.ch_names)}."
            )
        return np.asarray(image.data, dtype=np.float64).T

    def _write(self, image, path):
        image.save(str(path), overwrite=True, verbose="error")

    def _read(self, path):
        mne = needs("mne", "reading MNE maps")
        return mne.read_evokeds(str(path), condition=0, verbose="error")


def epochs_runs(epochs, dtype):
    """Responses of an MNE Epochs object: one ``(n_times, n_channels)`` per epoch."""
    space = _SensorSpace.from_info(epochs.info, "the Epochs")
    data = epochs.get_data(picks=space.picks)
    runs = [np.asarray(block.T, dtype=dtype) for block in data]
    return space, runs, float(epochs.info["sfreq"])


# --------------------------------------------------------------------------
# what save_map, load_map and load_runs are given


def space_for_series(kind, first, mask, *, what):
    """The space of responses of ``kind`` whose first run is ``first``."""
    if kind == "volume":
        if mask is None:
            raise ValueError(
                f"{what} are NIfTI images ({str(first)!r}): give mask= (a brain "
                "mask image, or a nilearn masker) to choose the voxels (--mask "
                "on the command line)."
            )
        return volume_space(mask)
    if kind == "surface":
        return _SurfaceSpace.from_series(first, mask)
    if mask is not None:
        raise ValueError(
            f"mask applies to NIfTI, GIFTI and array responses; {what} are "
            f"{'CIFTI files' if kind == 'cifti' else 'MNE data'}, whose targets "
            "are already chosen."
        )
    if kind == "cifti":
        return _CiftiSpace.from_series(first)
    mne = needs("mne", "reading .fif responses")
    if isinstance(first, (str, os.PathLike)):
        info = mne.io.read_info(str(first), verbose="error")
        return _SensorSpace.from_info(info, f"responses file {str(first)!r}")
    return _SensorSpace.from_info(first.info, f"the {type(first).__name__}")


def volume_space(mask):
    """A volume space from a mask path or image, or a nilearn masker."""
    if is_masker(mask):
        return _MaskerSpace(mask)
    nib = needs("nibabel", "a NIfTI mask")
    if isinstance(mask, (str, os.PathLike)):
        path = Path(mask)
        if not path.is_file():
            raise FileNotFoundError(f"mask file not found: {str(path)!r}.")
        if series_kind(path) != "volume":
            raise ValueError(
                f"mask {str(path)!r} must be a NIfTI image (.nii or .nii.gz)."
            )
        return _VolumeSpace(_load_image(nib, path), source=path)
    if _is_nifti(mask):
        return _VolumeSpace(mask)
    raise TypeError(
        "mask must be the path of a NIfTI mask image, a nibabel image or a "
        f"nilearn masker, got {type(mask).__name__}."
    )


def space_from_like(like):
    """The :class:`ResponseSpace` that ``like`` describes (for save_map)."""
    if isinstance(like, ResponseSpace):
        return like
    if isinstance(like, dict) and "space" in like:
        space = like["space"]
        if space is None:
            raise ValueError(
                "like: these data have no responses, so no space to write maps in."
            )
        return space
    if is_masker(like):
        space = _MaskerSpace(like)
        space._check_fitted()
        return space
    if isinstance(like, (str, os.PathLike)):
        path = Path(like)
        if not path.is_file():
            raise FileNotFoundError(f"like: file not found: {str(path)!r}.")
        kind = series_kind(path)
        name = path.name.lower()
        if name.endswith((".dscalar.nii", ".pscalar.nii")):
            kind = "cifti"
        if kind == "cifti":
            img = _load_image(needs("nibabel", "CIFTI maps"), path, kind="CIFTI-2")
            return _CiftiSpace(img.header.get_axis(1), source=path)
        if kind == "volume":
            return volume_space(path)
        if kind == "surface":
            return _SurfaceSpace.from_series(path)
        if kind == "sensors":
            mne = needs("mne", "MNE maps")
            info = mne.io.read_info(str(path), verbose="error")
            return _SensorSpace.from_info(info, f"like {str(path)!r}")
        raise ValueError(
            f"like: {str(path)!r} is not a NIfTI (.nii, .nii.gz), GIFTI (.gii), "
            "CIFTI (.dtseries.nii, .dscalar.nii) or MNE (.fif) file."
        )
    module = type(like).__module__ or ""
    if module.startswith("nibabel"):
        name = type(like).__name__
        if name == "Cifti2Image":
            return _CiftiSpace(like.header.get_axis(1))
        if name == "GiftiImage":
            return _SurfaceSpace(_gifti_data(like, "like").shape[0], meta=like.meta)
        if _is_nifti(like):
            return _VolumeSpace(like)
    if module.startswith("mne"):
        info = like if type(like).__name__ == "Info" else getattr(like, "info", None)
        if info is not None:
            return _SensorSpace.from_info(info, f"like ({type(like).__name__})")
    raise TypeError(
        "like must be the data returned by brainenc.io.load_runs, its space, a "
        "mask image (path or nibabel image), a fitted nilearn masker, a GIFTI or "
        "CIFTI file or image, or MNE Info/Raw/Epochs/Evoked, got "
        f"{type(like).__name__}."
    )


def is_mne(obj):
    """An MNE Raw or Epochs object (checked without importing mne)."""
    module = type(obj).__module__ or ""
    return (
        module.startswith("mne") and hasattr(obj, "info") and hasattr(obj, "get_data")
    )


def is_epochs(obj):
    return is_mne(obj) and any(c.__name__ == "BaseEpochs" for c in type(obj).__mro__)


def is_masker(obj):
    """A nilearn masker: ``fit``, ``transform`` and ``inverse_transform``."""
    return all(
        callable(getattr(obj, name, None))
        for name in ("fit", "transform", "inverse_transform")
    ) and not isinstance(obj, (str, os.PathLike, np.ndarray))


# --------------------------------------------------------------------------
# private helpers


def _is_nifti(obj):
    module = type(obj).__module__ or ""
    return (
        module.startswith("nibabel")
        and hasattr(obj, "affine")
        and hasattr(obj, "dataobj")
        and type(obj).__name__ != "Cifti2Image"
    )


def _is_fitted(masker):
    return any(
        hasattr(masker, attr)
        for attr in ("mask_img_", "labels_img_", "maps_img_", "n_elements_")
    )


def _load_image(nib, path, kind="NIfTI", **kwargs):
    """``nib.load(path)``, checked to be a ``kind`` image (NIfTI, GIFTI, CIFTI-2)."""
    try:
        img = nib.load(str(path), **kwargs)
    except Exception as exc:  # nibabel raises many kinds for a bad file
        raise ValueError(f"cannot read {str(path)!r}: {_first_line(exc)}") from exc
    name = type(img).__name__
    expected = {"GIFTI": name == "GiftiImage", "CIFTI-2": name == "Cifti2Image"}
    if not expected.get(kind, _is_nifti(img)):
        raise ValueError(
            f"{str(path)!r} is not a {kind} image (nibabel read a {name})."
        )
    return img


def _gifti_data(img, what):
    """A GIFTI image's data as ``(n_vertices, n_arrays)``."""
    label = str(what) if not isinstance(what, str) else what
    if not img.darrays:
        raise ValueError(f"GIFTI {label!r} holds no data array.")
    shapes = {tuple(d.data.shape) for d in img.darrays}
    if len(img.darrays) == 1:
        data = np.asarray(img.darrays[0].data)
        data = data[:, np.newaxis] if data.ndim == 1 else data
    elif len(shapes) == 1 and len(next(iter(shapes))) == 1:
        data = np.column_stack([d.data for d in img.darrays])
    else:
        raise ValueError(
            f"GIFTI {label!r} must hold one 1-D data array per time point (or one "
            f"2-D array, vertices x time points), got arrays of shapes "
            f"{sorted(shapes)}."
        )
    if data.ndim != 2 or data.dtype.kind not in "biuf":
        raise ValueError(
            f"GIFTI {label!r} must hold numeric data of vertices x time points, got "
            f"shape {data.shape} and dtype {data.dtype}."
        )
    return data


def _vertex_mask(mask, n_vertices, nib):
    label = f"mask {str(mask)!r}" if isinstance(mask, (str, os.PathLike)) else "mask"
    if isinstance(mask, (str, os.PathLike)):
        path = Path(mask)
        if not path.is_file():
            raise FileNotFoundError(f"mask file not found: {str(path)!r}.")
        if path.name.lower().endswith(".npy"):
            values = np.load(path, allow_pickle=False)
        else:
            values = _gifti_data(_load_image(nib, path, kind="GIFTI"), path)[:, 0]
    else:
        values = np.asarray(mask)
    values = np.squeeze(values)
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        raise ValueError(
            f"{label} of surface responses must hold one number per vertex, got "
            f"shape {np.shape(values)} and dtype {values.dtype}."
        )
    if values.shape[0] != n_vertices:
        raise ValueError(
            f"{label} has {values.shape[0]} values but the mesh of the responses "
            f"has {n_vertices} vertices (one value per vertex expected)."
        )
    inside = np.isfinite(values) & (values != 0)
    if not inside.any():
        raise ValueError(f"{label} holds no vertex (every value is 0).")
    return inside


def _gifti_type(dtype):
    types = {
        "float32": "NIFTI_TYPE_FLOAT32",
        "float64": "NIFTI_TYPE_FLOAT64",
        "int32": "NIFTI_TYPE_INT32",
        "uint8": "NIFTI_TYPE_UINT8",
    }
    if dtype.name not in types:
        raise ValueError(
            f"dtype of a GIFTI map must be one of {', '.join(types)}, got {dtype}."
        )
    return types[dtype.name]


def _nifti_sfreq(img):
    zooms = img.header.get_zooms()
    if len(zooms) < 4 or not np.isfinite(zooms[3]) or zooms[3] <= 0:
        return None
    unit = img.header.get_xyzt_units()[1]
    tr = float(zooms[3]) * {"msec": 1e-3, "usec": 1e-6}.get(unit, 1.0)
    return 1.0 / tr


def _label(source, default):
    return repr(str(source)) if source is not None else default


def _affine_text(affine):
    rows = np.asarray(affine, dtype=np.float64)[:3]
    return "[" + "; ".join(" ".join(f"{v:.4g}" for v in row) for row in rows) + "]"


def _names_text(names):
    names = list(names)
    return str(names[:5])[:-1] + (", ...]" if len(names) > 5 else "]")


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
