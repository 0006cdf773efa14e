"""Neuroimaging responses in, maps out: NIfTI + mask, maskers, GIFTI, CIFTI, MNE.

Every image is small, synthetic and written with nibabel inside the test; the
network is cut for the whole module, so nothing can download.
"""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from brainenc import DelayedRidge, delays_from_times, pearson_r
from brainenc.io import ResponseSpace, load_map, load_runs, save_map

nib = pytest.importorskip("nibabel")


# nothing may download (see conftest.no_network)
pytestmark = pytest.mark.usefixtures("no_network")


# An oblique affine (rotation, anisotropic voxels, offset): kept bit for bit.
AFFINE = np.array(
    [
        [-2.9, 0.3, 0.1, 41.5],
        [0.25, 3.1, -0.2, -57.0],
        [0.05, 0.15, 3.5, -22.25],
        [0.0, 0.0, 0.0, 1.0],
    ]
)
SHAPE = (6, 7, 5)
LENGTHS = {"run-1": 40, "run-2": 36, "run-3": 30}


def _mask_with_holes():
    inside = np.zeros(SHAPE, dtype=np.int16)
    inside[1:5, 1:6, 1:4] = 1
    inside[2, 3, 2] = inside[3, 2, 1] = inside[1, 5, 3] = 0  # holes
    inside[0, 0, 0] = 7  # any non-zero value is inside
    return inside


def _in_mask_order(inside):
    """The mask's voxels in C order, listed by hand (independent of the code)."""
    order = []
    for i in range(inside.shape[0]):
        for j in range(inside.shape[1]):
            for k in range(inside.shape[2]):
                if inside[i, j, k] != 0:
                    order.append((i, j, k))
    return order


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """Three 4-D runs (TR 1.5 s), a mask with holes, features per run."""
    root = tmp_path_factory.mktemp("volume")
    rng = np.random.default_rng(0)
    inside = _mask_with_holes()
    mask_img = nib.Nifti1Image(inside, AFFINE)
    mask_img.header["descrip"] = b"test mask"
    nib.save(mask_img, root / "mask.nii.gz")
    voxels = _in_mask_order(inside)
    (root / "feats").mkdir()
    truth = {}
    for run, n in LENGTHS.items():
        X = rng.standard_normal((n, 3)).astype(np.float32)
        y = rng.standard_normal((n, len(voxels))).astype(np.float32)
        # outside the mask: large values that must never reach y
        bold = rng.uniform(100, 200, (*SHAPE, n)).astype(np.float32)
        for t, (i, j, k) in enumerate(voxels):
            bold[i, j, k, :] = y[:, t]
        img = nib.Nifti1Image(bold, AFFINE)
        img.header.set_xyzt_units("mm", "sec")
        img.header.set_zooms((3.0, 3.0, 3.5, 1.5))
        nib.save(img, root / f"{run}_bold.nii.gz")
        np.save(root / "feats" / f"{run}_bold.npy", X)
        truth[run] = (X, y)
    return root, inside, voxels, truth


def _load_volume(root, **kwargs):
    return load_runs(root / "feats", sorted(root.glob("run-*_bold.nii.gz")), **kwargs)


def test_nifti_runs_become_y_in_mask_order(volume):
    root, inside, voxels, truth = volume
    data = _load_volume(root, mask=root / "mask.nii.gz")
    runs = list(LENGTHS)
    assert data.runs == [f"{run}_bold" for run in runs]
    np.testing.assert_array_equal(data.y, np.vstack([truth[r][1] for r in runs]))
    np.testing.assert_array_equal(data.X, np.vstack([truth[r][0] for r in runs]))
    assert data.sfreq == pytest.approx(1 / 1.5)
    assert data.space.kind == "volume"
    assert data.space.n_targets == len(voxels) == int((inside != 0).sum())
    assert repr(data.space) == f"ResponseSpace(kind='volume', n_targets={len(voxels)})"
    assert data.space.describe()["mask"] == str(root / "mask.nii.gz")
    # the sampling rate gives the delays of a window in seconds
    np.testing.assert_array_equal(delays_from_times(1.5, 6.0, data.sfreq), [1, 2, 3, 4])


def test_volume_map_round_trip_keeps_affine_and_header(volume, tmp_path):
    root, inside, voxels, _ = volume
    data = _load_volume(root, mask=root / "mask.nii.gz")
    values = np.random.default_rng(1).uniform(-1, 1, len(voxels)).astype(np.float32)
    path = save_map(values, tmp_path / "r.nii.gz", like=data)
    img = nib.load(path)
    mask_img = nib.load(root / "mask.nii.gz")
    np.testing.assert_array_equal(img.affine, mask_img.affine)
    np.testing.assert_array_equal(img.header.get_sform(), mask_img.header.get_sform())
    np.testing.assert_array_equal(img.header.get_qform(), mask_img.header.get_qform())
    assert img.header.get_zooms() == mask_img.header.get_zooms()
    assert img.header["descrip"] == mask_img.header["descrip"]
    assert img.get_data_dtype() == np.float32
    volume_data = np.asanyarray(img.dataobj)
    assert volume_data.shape == SHAPE
    for t, voxel in enumerate(voxels):
        assert volume_data[voxel] == values[t]
    assert np.all(volume_data[inside == 0] == 0)
    # array -> map -> array, exactly
    np.testing.assert_array_equal(load_map(path, like=data), values)
    np.testing.assert_array_equal(load_map(path, like=root / "mask.nii.gz"), values)


def test_volume_map_fill_nan_several_maps_float64(volume, tmp_path):
    root, inside, voxels, _ = volume
    rng = np.random.default_rng(2)
    values = rng.standard_normal((3, len(voxels)))  # float64, 3 maps
    path = save_map(
        values,
        tmp_path / "maps.nii",
        like=root / "mask.nii.gz",
        fill_value=np.nan,
        dtype="float64",
    )
    data = np.asanyarray(nib.load(path).dataobj)
    assert data.shape == (*SHAPE, 3)
    assert np.isnan(data[inside == 0]).all()
    for t, voxel in enumerate(voxels):
        np.testing.assert_array_equal(data[voxel], values[:, t])
    np.testing.assert_array_equal(load_map(path, like=root / "mask.nii.gz"), values)


def test_save_map_leaves_its_values_alone(volume, tmp_path):
    root, _, voxels, _ = volume
    values = np.linspace(-1, 1, len(voxels))
    values.flags.writeable = False
    before = values.copy()
    save_map(values, tmp_path / "r.nii.gz", like=root / "mask.nii.gz")
    np.testing.assert_array_equal(values, before)


def test_single_voxel_mask(volume, tmp_path):
    root, _, _, _ = volume
    inside = np.zeros(SHAPE, dtype=np.uint8)
    inside[4, 2, 3] = 1
    nib.save(nib.Nifti1Image(inside, AFFINE), tmp_path / "one.nii.gz")
    data = _load_volume(root, mask=tmp_path / "one.nii.gz")
    bold = nib.load(root / "run-1_bold.nii.gz").get_fdata()
    assert data.y.shape == (sum(LENGTHS.values()), 1)
    np.testing.assert_array_equal(data.y[:40, 0], bold[4, 2, 3].astype(np.float32))
    path = save_map([0.5], tmp_path / "r.nii.gz", like=data)
    written = nib.load(path).get_fdata()
    assert written[4, 2, 3] == 0.5
    assert np.count_nonzero(written) == 1
    np.testing.assert_array_equal(load_map(path, like=data), [0.5])


def test_mismatched_images_are_refused_naming_file_and_shapes(volume, tmp_path):
    root, _, _, _ = volume
    bold = np.zeros((*SHAPE, 5), np.float32)
    small = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(bold[:5], AFFINE), small)
    with pytest.raises(ValueError, match=re.escape(
        f"responses file {str(small)!r} has shape (5, 7, 5, 5), whose spatial "
        "shape (5, 7, 5) differs from the mask's (6, 7, 5)"
    )):  # fmt: skip
        _neuro_space(root)._read_run(small, dtype="float32")
    moved = tmp_path / "moved.nii.gz"
    shifted = AFFINE.copy()
    shifted[0, 3] += 2.0
    nib.save(nib.Nifti1Image(bold, shifted), moved)
    with pytest.raises(ValueError, match=re.escape(
        f"responses file {str(moved)!r} has another affine than the mask "
        f"({str(root / 'mask.nii.gz')!r}; largest difference 2)"
    )):  # fmt: skip
        _neuro_space(root)._read_run(moved, dtype="float32")
    flat = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(bold[..., 0], AFFINE), flat)
    with pytest.raises(ValueError, match=re.escape(
        f"responses file {str(flat)!r} must be a 4-D image (x, y, z, time), got "
        "shape (6, 7, 5)."
    )):  # fmt: skip
        _neuro_space(root)._read_run(flat, dtype="float32")
    # through load_runs: the run's file is named
    (tmp_path / "feats").mkdir()
    np.save(tmp_path / "feats" / "small.npy", np.zeros((5, 2)))
    with pytest.raises(ValueError, match="'.*small.nii.gz' has shape"):
        load_runs(tmp_path / "feats", small, mask=root / "mask.nii.gz")


def _neuro_space(root):
    from brainenc._neuro import volume_space

    return volume_space(root / "mask.nii.gz")


def test_bad_masks_and_values(volume, tmp_path):
    root, _, voxels, _ = volume
    with pytest.raises(ValueError, match=re.escape(
        "responses are NIfTI images ("
    )):  # fmt: skip
        _load_volume(root)
    empty = tmp_path / "empty.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.uint8), AFFINE), empty)
    with pytest.raises(ValueError, match=re.escape(
        f"mask {str(empty)!r} holds no voxel (every value is 0)."
    )):  # fmt: skip
        _load_volume(root, mask=empty)
    with pytest.raises(FileNotFoundError, match="mask file not found"):
        _load_volume(root, mask=tmp_path / "nope.nii.gz")
    with pytest.raises(ValueError, match=re.escape(
        f"values must have shape ({len(voxels)},) or (n_maps, {len(voxels)}): one "
        f"value per target of the volume space ({len(voxels)} voxels in the "
        "mask), got shape (3,)."
    )):  # fmt: skip
        save_map([1.0, 2.0, 3.0], tmp_path / "r.nii.gz", like=root / "mask.nii.gz")
    with pytest.raises(ValueError, match=re.escape(
        "path must end in .nii.gz or .nii for a map of volume responses, got"
    )):  # fmt: skip
        save_map(np.zeros(len(voxels)), tmp_path / "r.csv", like=root / "mask.nii.gz")
    other = tmp_path / "other.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((6, 7, 4), np.float32), AFFINE), other)
    with pytest.raises(ValueError, match=re.escape(
        f"map {str(other)!r} has shape (6, 7, 4), whose spatial shape (6, 7, 4) "
        "differs from the mask's (6, 7, 5)"
    )):  # fmt: skip
        load_map(other, like=root / "mask.nii.gz")
    with pytest.raises(TypeError, match="like must be the data returned by"):
        save_map([1.0], tmp_path / "r.nii.gz", like=3)


def test_runs_with_other_tr_are_refused(volume, tmp_path):
    root, _, _, _ = volume
    img = nib.load(root / "run-3_bold.nii.gz")
    img.header.set_zooms((3.0, 3.0, 3.5, 2.0))
    odd = tmp_path / "run-3_bold.nii.gz"
    nib.save(img, odd)
    files = [root / "run-1_bold.nii.gz", root / "run-2_bold.nii.gz", odd]
    with pytest.raises(ValueError, match=re.escape(
        "the runs have different sampling rates: run 'run-1_bold' ("
    )):  # fmt: skip
        load_runs(root / "feats", files, mask=root / "mask.nii.gz")
    data = load_runs(root / "feats", files, mask=root / "mask.nii.gz", sfreq=0.5)
    assert data.sfreq == 0.5


# nilearn 0.14's own default (standardize=False) warns about nilearn 0.15
@pytest.mark.filterwarnings("ignore:boolean values for 'standardize':FutureWarning")
def test_nilearn_maskers(volume, tmp_path):
    pytest.importorskip("nilearn")
    from nilearn.maskers import NiftiLabelsMasker, NiftiMasker

    root, inside, voxels, truth = volume
    by_path = _load_volume(root, mask=root / "mask.nii.gz")
    masker = NiftiMasker(mask_img=str(root / "mask.nii.gz"))
    by_masker = _load_volume(root, mask=masker)
    np.testing.assert_array_equal(by_masker.y, by_path.y)
    # the masker given is left unfitted; the data keep a fitted copy
    assert not hasattr(masker, "mask_img_")
    assert hasattr(by_masker.space.mask, "mask_img_")
    fitted = NiftiMasker(mask_img=str(root / "mask.nii.gz")).fit()
    assert _load_volume(root, mask=fitted).space.mask is fitted
    values = np.linspace(-0.5, 0.5, len(voxels)).astype(np.float32)
    a = nib.load(save_map(values, tmp_path / "a.nii.gz", like=by_masker))
    b = nib.load(save_map(values, tmp_path / "b.nii.gz", like=by_path))
    np.testing.assert_array_equal(a.affine, b.affine)
    np.testing.assert_array_equal(a.get_fdata(), b.get_fdata())
    nan_map = save_map(values, tmp_path / "c.nii.gz", like=fitted, fill_value=np.nan)
    assert np.isnan(nib.load(nan_map).get_fdata()[inside == 0]).all()
    np.testing.assert_array_equal(
        nib.load(nan_map).get_fdata()[inside != 0], b.get_fdata()[inside != 0]
    )
    with pytest.raises(ValueError, match=re.escape(
        "like: the NiftiMasker must be fitted (call its fit method, or pass the "
        "data returned by load_runs)."
    )):  # fmt: skip
        save_map(values, tmp_path / "d.nii.gz", like=masker)

    # parcels: the targets are the labels' mean signals
    labels = np.zeros(SHAPE, np.int16)
    labels[1:3, 1:6, 1:4], labels[3:5, 1:6, 1:4] = 1, 2
    atlas = nib.Nifti1Image(labels, AFFINE)
    parcels = _load_volume(root, mask=NiftiLabelsMasker(atlas))
    bold = nib.load(root / "run-1_bold.nii.gz").get_fdata()
    expected = np.stack([bold[labels == k].mean(axis=0) for k in (1, 2)], axis=1)
    np.testing.assert_allclose(parcels.y[:40], expected, rtol=1e-5)
    painted = nib.load(save_map([0.25, -0.75], tmp_path / "p.nii.gz", like=parcels))
    assert np.all(painted.get_fdata()[labels == 1] == 0.25)
    assert np.all(painted.get_fdata()[labels == 2] == -0.75)
    assert np.all(painted.get_fdata()[labels == 0] == 0)


def test_array_responses_with_a_mask_become_maps(volume, tmp_path):
    root, inside, voxels, truth = volume
    (tmp_path / "bold").mkdir()
    for run, (_, y) in truth.items():
        np.save(tmp_path / "bold" / f"{run}_bold.npy", y)
    data = load_runs(root / "feats", tmp_path / "bold", mask=root / "mask.nii.gz")
    assert data.space.kind == "volume"
    assert data.sfreq is None
    path = save_map(np.arange(len(voxels)), tmp_path / "i.nii.gz", like=data)
    np.testing.assert_array_equal(load_map(path, like=data), np.arange(len(voxels)))
    np.save(tmp_path / "bold" / "run-1_bold.npy", truth["run-1"][1][:, :5])
    with pytest.raises(ValueError, match=re.escape(
        "_bold.npy' has 5 targets but the mask has "
        f"{len(voxels)} voxels in the mask"
    )):  # fmt: skip
        load_runs(root / "feats", tmp_path / "bold", mask=root / "mask.nii.gz")
    plain = load_runs(root / "feats", root / "feats")
    assert plain.space.kind == "array"
    assert plain.space.n_targets == 3


# --------------------------------------------------------------------------
# GIFTI


def _gifti_series(data, hemi="CortexLeft", one_array=False):
    meta = nib.gifti.GiftiMetaData({"AnatomicalStructurePrimary": hemi})
    if one_array:
        darrays = [nib.gifti.GiftiDataArray(data.T.astype(np.float32))]
    else:
        darrays = [
            nib.gifti.GiftiDataArray(
                row.astype(np.float32), intent="NIFTI_INTENT_TIME_SERIES"
            )
            for row in data
        ]
    return nib.gifti.GiftiImage(darrays=darrays, meta=meta)


@pytest.fixture(scope="module")
def surface(tmp_path_factory):
    root = tmp_path_factory.mktemp("surface")
    rng = np.random.default_rng(3)
    (root / "feats").mkdir()
    truth = {}
    for i, (run, n) in enumerate(LENGTHS.items()):
        y = rng.standard_normal((n, 50)).astype(np.float32)
        nib.save(_gifti_series(y, one_array=i == 1), root / f"{run}.func.gii")
        X = rng.standard_normal((n, 2))
        np.save(root / "feats" / f"{run}.npy", X)
        truth[run] = (X, y)
    return root, truth


def test_gifti_series_round_trip(surface, tmp_path):
    root, truth = surface
    data = load_runs(root / "feats", root / "run-*.func.gii")
    assert data.runs == list(LENGTHS)
    np.testing.assert_array_equal(data.y, np.vstack([truth[r][1] for r in LENGTHS]))
    assert data.space.kind == "surface"
    assert data.space.hemisphere == "left"
    assert data.sfreq is None
    values = np.random.default_rng(4).uniform(-1, 1, 50).astype(np.float32)
    path = save_map(values, tmp_path / "r.func.gii", like=data, names=["r"])
    img = nib.load(path)
    assert len(img.darrays) == 1
    np.testing.assert_array_equal(img.darrays[0].data, values)
    assert img.darrays[0].meta["Name"] == "r"
    assert img.meta["AnatomicalStructurePrimary"] == "CortexLeft"
    np.testing.assert_array_equal(load_map(path, like=data), values)
    np.testing.assert_array_equal(load_map(path, like=root / "run-1.func.gii"), values)


def test_gifti_vertex_mask(surface, tmp_path):
    root, truth = surface
    keep = np.ones(50, dtype=np.uint8)
    keep[[0, 7, 8, 9, 30]] = 0  # a "medial wall"
    np.save(tmp_path / "cortex.npy", keep)
    data = load_runs(
        root / "feats", root / "run-*.func.gii", mask=tmp_path / "cortex.npy"
    )
    assert data.y.shape[1] == 45
    np.testing.assert_array_equal(data.y[:40], truth["run-1"][1][:, keep != 0])
    values = np.arange(45, dtype=np.float32)
    path = save_map(values, tmp_path / "r.func.gii", like=data, fill_value=np.nan)
    written = nib.load(path).darrays[0].data
    np.testing.assert_array_equal(written[keep != 0], values)
    assert np.isnan(written[keep == 0]).all()
    np.testing.assert_array_equal(load_map(path, like=data), values)
    with pytest.raises(ValueError, match=re.escape(
        "mask has 49 values but the mesh of the responses has 50 vertices (one "
        "value per vertex expected)."
    )):  # fmt: skip
        load_runs(root / "feats", root / "run-*.func.gii", mask=keep[:49])


def test_gifti_other_mesh_is_refused(surface, tmp_path):
    root, truth = surface
    for run in ("run-1", "run-2"):
        nib.save(_gifti_series(truth[run][1]), tmp_path / f"{run}.func.gii")
    odd = tmp_path / "run-3.func.gii"
    nib.save(_gifti_series(truth["run-3"][1][:, :48]), odd)
    with pytest.raises(ValueError, match=re.escape(
        f"responses file {str(odd)!r} has 48 vertices (data shape (48, 30), "
        "vertices x time points) but"
    )):  # fmt: skip
        load_runs(root / "feats", tmp_path / "*.func.gii")


# --------------------------------------------------------------------------
# CIFTI


def _brain_models():
    from nibabel import cifti2

    cortex = np.zeros(40, dtype=bool)
    cortex[[1, 2, 5, 7, 11, 20, 33]] = True
    voxels = np.zeros((3, 4, 2), dtype=bool)
    voxels[1, 2, 0] = voxels[2, 3, 1] = True
    return cifti2.BrainModelAxis.from_mask(
        cortex, name="CortexLeft"
    ) + cifti2.BrainModelAxis.from_mask(
        voxels, affine=np.diag([2.0, 2.0, 2.0, 1.0]), name="thalamus_left"
    )


def _dtseries(data, axis, step=0.8):
    from nibabel import cifti2

    series = cifti2.SeriesAxis(start=0, step=step, size=data.shape[0], unit="SECOND")
    img = cifti2.Cifti2Image(data.astype(np.float32), header=(series, axis))
    img.nifti_header.set_intent("ConnDenseSeries")
    return img


def test_cifti_dense_series_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    axis = _brain_models()
    (tmp_path / "feats").mkdir()
    truth = []
    for run, n in LENGTHS.items():
        y = rng.standard_normal((n, len(axis))).astype(np.float32)
        _dtseries(y, axis).to_filename(tmp_path / f"{run}.dtseries.nii")
        np.save(tmp_path / "feats" / f"{run}.npy", rng.standard_normal((n, 2)))
        truth.append(y)
    data = load_runs(tmp_path / "feats", tmp_path / "*.dtseries.nii")
    assert data.runs == list(LENGTHS)  # ".dtseries.nii" is the ending, not ".nii"
    np.testing.assert_array_equal(data.y, np.vstack(truth))
    assert data.sfreq == pytest.approx(1 / 0.8)
    assert data.space.kind == "cifti"
    assert data.space.n_targets == 9
    values = rng.uniform(-1, 1, 9).astype(np.float32)
    path = save_map(values, tmp_path / "r.dscalar.nii", like=data, names=["r"])
    img = nib.load(path)
    assert img.header.get_axis(1) == axis
    assert list(img.header.get_axis(0).name) == ["r"]
    np.testing.assert_array_equal(np.asanyarray(img.dataobj)[0], values)
    np.testing.assert_array_equal(load_map(path, like=data), values)
    with pytest.raises(ValueError, match="mask applies to NIfTI, GIFTI and array"):
        load_runs(tmp_path / "feats", tmp_path / "*.dtseries.nii", mask=[1])
    from nibabel import cifti2

    other = cifti2.BrainModelAxis.from_mask(np.ones(9, bool), name="CortexRight")
    odd = tmp_path / "run-3.dtseries.nii"
    _dtseries(truth[2], other).to_filename(odd)
    with pytest.raises(ValueError, match=re.escape(
        f"responses file {str(odd)!r} has other grayordinates than"
    )):  # fmt: skip
        load_runs(tmp_path / "feats", tmp_path / "*.dtseries.nii")


def test_mixed_kinds_of_response_files_are_refused(volume, surface, tmp_path):
    root, _, _, _ = volume
    surface_root, _ = surface
    files = [root / "run-1_bold.nii.gz", surface_root / "run-2.func.gii"]
    with pytest.raises(ValueError, match=re.escape(
        "responses mix file types: "
    )):  # fmt: skip
        load_runs(root / "feats", files, mask=root / "mask.nii.gz")


# --------------------------------------------------------------------------
# MNE


@pytest.fixture(scope="module")
def epochs():
    mne = pytest.importorskip("mne")
    rng = np.random.default_rng(6)
    names = ["Fz", "Cz", "Pz", "Oz", "C3", "C4", "STI 014"]
    info = mne.create_info(names, 100.0, ["eeg"] * 6 + ["stim"])
    info["bads"] = ["Oz"]
    n_epochs, n_times = 6, 120
    X = rng.standard_normal((n_epochs, n_times, 2))
    weights = rng.standard_normal((2, 6))
    data = np.einsum("etf,fc->ect", X, weights) * 1e-6
    data += 0.5e-6 * rng.standard_normal(data.shape)
    data = np.concatenate([data, np.zeros((n_epochs, 1, n_times))], axis=1)
    return mne.EpochsArray(data, info, verbose="error"), X


def test_mne_epochs_are_runs(epochs, tmp_path):
    mne = pytest.importorskip("mne")
    inst, X = epochs
    (tmp_path / "feats").mkdir()
    for i, block in enumerate(X):
        np.save(tmp_path / "feats" / f"trial-{i + 1:02d}.npy", block)
    data = load_runs(tmp_path / "feats", inst, dtype="float64")
    assert data.runs == [f"trial-{i + 1:02d}" for i in range(6)]
    good = ["Fz", "Cz", "Pz", "C3", "C4"]  # the bad channel and the stim left out
    assert data.space.kind == "sensors"
    assert data.space.mask == good
    expected = inst.get_data(picks=good)
    np.testing.assert_array_equal(data.y, np.concatenate([e.T for e in expected]))
    assert data.sfreq == 100.0
    assert data.files["trial-03"]["responses"] == "epoch 2"
    delays = delays_from_times(0.0, 0.02, data.sfreq)
    np.testing.assert_array_equal(delays, [0, 1, 2])

    # the Python API end to end: fit on 5 epochs, score the 6th, map the r
    train = data.groups != "trial-06"
    model = DelayedRidge(delays=delays, backend="numpy")
    model.fit(data.X[train], data.y[train], groups=data.groups[train])
    test = ~train
    r = pearson_r(data.y[test], model.predict(data.X[test], groups=data.groups[test]))
    assert r.min() > 0.5
    path = save_map(r, tmp_path / "r-ave.fif", like=data, names=["r"])
    evoked = mne.read_evokeds(path, verbose="error")[0]
    assert evoked.ch_names == good
    # .fif stores evoked data in float32
    np.testing.assert_array_equal(evoked.data[:, 0], r.astype(np.float32))
    np.testing.assert_array_equal(load_map(path, like=data), r.astype(np.float32))
    np.testing.assert_array_equal(load_map(path, like=inst.info), r.astype(np.float32))

    with pytest.raises(ValueError, match=re.escape(
        "mismatched runs: the responses are an Epochs object of 6 epochs, paired "
        "in order with the features' runs, but there are 5 runs of features"
    )):  # fmt: skip
        load_runs(tmp_path / "feats", inst, runs=data.runs[:5])
    with pytest.raises(ValueError, match="mask applies to NIfTI, GIFTI and array"):
        load_runs(tmp_path / "feats", inst, mask=tmp_path / "mask.nii.gz")


def test_mne_raw_objects_and_files(epochs, tmp_path):
    mne = pytest.importorskip("mne")
    inst, X = epochs
    raws = [
        mne.io.RawArray(block, inst.info, verbose="error")
        for block in inst.get_data()[:3]
    ]
    (tmp_path / "feats").mkdir()
    for i in range(3):
        np.save(tmp_path / "feats" / f"run-{i + 1}_raw.npy", X[i])
        raws[i].save(tmp_path / f"run-{i + 1}_raw.fif", fmt="double", verbose="error")
    by_objects = load_runs(tmp_path / "feats", raws, dtype="float64")
    by_files = load_runs(
        tmp_path / "feats", tmp_path / "run-*_raw.fif", dtype="float64"
    )
    assert by_files.runs == by_objects.runs == ["run-1_raw", "run-2_raw", "run-3_raw"]
    np.testing.assert_array_equal(by_files.y, by_objects.y)
    np.testing.assert_array_equal(
        by_objects.y[:120], inst.get_data(picks=["Fz", "Cz", "Pz", "C3", "C4"])[0].T
    )
    assert by_files.sfreq == by_objects.sfreq == 100.0
    assert by_files.files["run-2_raw"]["responses"].endswith("run-2_raw.fif")
    raws[2].info["bads"] = ["Fz"]
    with pytest.raises(ValueError, match=re.escape(
        "responses (RawArray) mark channel(s) ['Fz'] as bad, which the first run "
        "uses"
    )):  # fmt: skip
        load_runs(tmp_path / "feats", raws)


# --------------------------------------------------------------------------
# the package stays light


def test_import_brainenc_io_does_not_import_neuro_libraries():
    code = textwrap.dedent(
        """
        import sys
        import brainenc, brainenc.io, brainenc.plotting, brainenc.cli
        from brainenc.io import load_runs, save_map, ResponseSpace
        heavy = [m for m in ("nibabel", "nilearn", "mne", "matplotlib", "torch")
                 if m in sys.modules]
        print(heavy)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_array_space():
    space = ResponseSpace(3)
    np.testing.assert_array_equal(space.to_image([1, 2, 3]), [1, 2, 3])
    assert space.describe() == {"kind": "array", "n_targets": 3}


def test_the_neuro_extra_brings_what_the_code_imports():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    neuro = project["optional-dependencies"]["neuro"]
    names = {re.split(r"[<>=\[ ]", item)[0] for item in neuro}
    assert names == {"nibabel", "nilearn", "mne", "matplotlib"}
    # every library imported by the neuroimaging code is in the extra
    sources = "".join(
        (root / "src" / "brainenc" / name).read_text()
        for name in ("_neuro.py", "io.py", "plotting.py")
    )
    imported = set(re.findall(r'needs\("(\w+)', sources))
    imported |= set(re.findall(r'_neuro_module\("(\w+)', sources))
    assert imported == {"nibabel", "nilearn", "mne"}
    assert imported <= names
    assert "brainenc[neuro]" in project["optional-dependencies"]["test"]
