"""`brainenc fit/score` on NIfTI runs with a mask and on GIFTI surface series.

The images are small and synthetic, written with nibabel in the tests; the
network is cut for the in-process runs, so nothing can download.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import brainenc
from brainenc.cli import main

nib = pytest.importorskip("nibabel")
pytest.importorskip("nilearn")
pytest.importorskip("matplotlib")

AFFINE = np.array(
    [
        [-2.5, 0.2, 0.0, 30.0],
        [0.1, 2.5, -0.15, -42.0],
        [0.0, 0.1, 3.0, -18.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)
SHAPE = (8, 9, 6)
RUNS = {"run-1": 70, "run-2": 64, "run-3": 60, "run-4": 56}


# nothing may download (see conftest.no_network)
pytestmark = pytest.mark.usefixtures("no_network")


def _responses(rng, X, weights):
    """Responses driven by the features one sample later, plus noise."""
    y = np.zeros((X.shape[0], weights.shape[1]))
    y[1:] = X[:-1] @ weights
    return y + 0.7 * rng.standard_normal(y.shape)


def _voxels(inside):
    return [tuple(v) for v in np.argwhere(inside != 0)]  # C order


@pytest.fixture(scope="module")
def nifti(tmp_path_factory):
    root = tmp_path_factory.mktemp("nifti")
    rng = np.random.default_rng(0)
    inside = np.zeros(SHAPE, dtype=np.uint8)
    inside[2:6, 2:7, 1:5] = 1
    inside[3, 4, 2] = inside[4, 5, 3] = 0  # holes
    nib.save(nib.Nifti1Image(inside, AFFINE), root / "mask.nii.gz")
    (root / "feats").mkdir()
    voxels = _voxels(inside)
    weights = rng.standard_normal((4, len(voxels)))
    for run, n in RUNS.items():
        X = rng.standard_normal((n, 4))
        y = _responses(rng, X, weights)
        bold = rng.standard_normal((*SHAPE, n)).astype(np.float32)
        for t, voxel in enumerate(voxels):
            bold[voxel] = y[:, t]
        img = nib.Nifti1Image(bold, AFFINE)
        img.header.set_xyzt_units("mm", "sec")
        img.header.set_zooms((2.5, 2.5, 3.0, 2.0))
        nib.save(img, root / f"{run}.nii.gz")
        np.save(root / "feats" / f"{run}.npy", X)
    return root, inside


def _scores(path):
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    return np.array([float(row["r"]) for row in rows])


def _env():
    env = dict(os.environ)
    src = str(Path(brainenc.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


def test_fit_with_permutations_writes_p_and_q_maps(nifti, monkeypatch):
    root, inside = nifti
    monkeypatch.chdir(root)
    code = main(
        ["fit", "--features", "feats/", "--responses",
         *sorted(str(p.name) for p in root.glob("run-*.nii.gz")),
         "--mask", "mask.nii.gz", "--param", "backend=numpy", "--permutations",
         "99", "--no-figures", "--quiet", "--out", "res"]
    )  # fmt: skip
    assert code == 0
    with open(root / "res" / "scores.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    summary = json.loads((root / "res" / "summary.json").read_text())
    assert set(summary["files"]["maps"]) == {"r", "p", "q"}
    for name in ("p", "q"):
        image = nib.load(root / "res" / f"{name}.nii.gz")
        data = np.asanyarray(image.dataobj)
        in_mask = np.array([data[voxel] for voxel in _voxels(inside)])
        column = np.array([float(row[name]) for row in rows], dtype=np.float32)
        np.testing.assert_array_equal(in_mask, column)
        np.testing.assert_array_equal(image.affine, nib.load("mask.nii.gz").affine)
    assert summary["significance"]["n_permutations"] == 99


def test_fit_nifti_runs_with_a_mask_writes_the_r_map(nifti):
    root, inside = nifti
    # the command of the README, glob expanded by the shell
    command = (
        f"{sys.executable} -m brainenc fit --features feats/ --responses "
        "run-*.nii.gz --mask mask.nii.gz --param backend=numpy --out res/"
    )
    proc = subprocess.run(
        command,
        shell=True,
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "4 runs, 250 samples, 4 features (features 4), 78 targets (voxels)" in (
        proc.stderr
    )
    out = root / "res"
    r = _scores(out / "scores.csv")
    assert r.size == int((inside != 0).sum()) == 78
    assert r.mean() > 0.6  # the responses follow the features

    r_map = nib.load(out / "r.nii.gz")
    mask_img = nib.load(root / "mask.nii.gz")
    np.testing.assert_array_equal(r_map.affine, mask_img.affine)
    assert r_map.shape == SHAPE
    assert r_map.get_data_dtype() == np.float32
    data = np.asanyarray(r_map.dataobj)
    # in-mask values, in mask order, are the scores (stored as float32)
    in_mask = np.array([data[voxel] for voxel in _voxels(inside)])
    np.testing.assert_array_equal(in_mask, r.astype(np.float32))
    assert np.all(data[inside == 0] == 0)
    # the mask is kept with the results
    kept = nib.load(out / "mask.nii.gz")
    np.testing.assert_array_equal(kept.affine, mask_img.affine)
    np.testing.assert_array_equal(np.asanyarray(kept.dataobj) != 0, inside != 0)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["responses"]["kind"] == "volume"
    assert summary["data"]["responses"]["mask"] == "mask.nii.gz"
    assert summary["data"]["sfreq"] == 0.5
    assert summary["files"]["maps"] == {"r": "res/r.nii.gz"}
    assert summary["files"]["mask"] == "res/mask.nii.gz"
    png = out / "figures" / "r_map.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert "figures/r_map.png" in " ".join(summary["files"]["figures"])

    # score writes the same map from the saved model (mask from its header)
    code = subprocess.run(
        [sys.executable, "-m", "brainenc", "score", "res", "--features", "feats/",
         "--responses", "run-4.nii.gz", "--runs", "run-4", "--map",
         "res/score_r.nii.gz", "--quiet"],
        cwd=root, env=_env(), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert code.returncode == 0, code.stderr
    again = np.asanyarray(nib.load(out / "score_r.nii.gz").dataobj)
    np.testing.assert_array_equal(again, data)


def test_fit_nifti_errors_are_one_line(nifti, tmp_path, capsys):
    root, _ = nifti
    runs = [str(root / f"{run}.nii.gz") for run in RUNS]
    base = ["fit", "--features", str(root / "feats"), "--responses", *runs,
            "--param", "backend=numpy", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(base) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"brainenc: error: responses are NIfTI images ({runs[0]!r}): give mask= (a "
        "brain mask image, or a nilearn masker)"
    )
    assert err.count("\n") == 1
    small = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 9, 5), np.uint8), AFFINE), small)
    assert main([*base, "--mask", str(small)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"brainenc: error: responses file {runs[0]!r} has shape (8, 9, 6, 70), "
        "whose spatial shape (8, 9, 6) differs from the mask's (8, 9, 5) "
        f"({str(small)!r}); resample one onto the other first (e.g. "
        "nilearn.image.resample_to_img).\n"
    )


def test_score_map_needs_a_brain_space(nifti, tmp_path, capsys):
    root, _ = nifti
    out = tmp_path / "out"
    (tmp_path / "bold").mkdir()
    inside = nib.load(root / "mask.nii.gz").get_fdata() != 0
    for run in RUNS:
        bold = nib.load(root / f"{run}.nii.gz").get_fdata()
        np.save(tmp_path / "bold" / f"{run}.npy", bold[inside].T)
    # arrays already in mask order + --mask: the maps are written too
    argv = ["fit", "--features", str(root / "feats"), "--responses",
            str(tmp_path / "bold"), "--mask", str(root / "mask.nii.gz"),
            "--param", "backend=numpy", "--no-figures", "--quiet",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    r = _scores(out / "scores.csv")
    data = np.asanyarray(nib.load(out / "r.nii.gz").dataobj)
    np.testing.assert_array_equal(data[inside], r.astype(np.float32))
    capsys.readouterr()
    plain = ["score", str(out), "--features", str(root / "feats"), "--responses",
             str(tmp_path / "bold"), "--map", str(tmp_path / "r.nii.gz"),
             "--quiet"]  # fmt: skip
    # the mask recorded with the model makes the map
    assert main(plain) == 0
    np.testing.assert_array_equal(
        np.asanyarray(nib.load(tmp_path / "r.nii.gz").dataobj)[inside] != 0, True
    )


@pytest.fixture(scope="module")
def gifti(tmp_path_factory):
    """Three runs on fsaverage5's left hemisphere (10242 vertices)."""
    root = tmp_path_factory.mktemp("gifti")
    rng = np.random.default_rng(1)
    (root / "feats").mkdir()
    meta = nib.gifti.GiftiMetaData({"AnatomicalStructurePrimary": "CortexLeft"})
    weights = rng.standard_normal((3, 10242))
    for run, n in list(RUNS.items())[:3]:
        X = rng.standard_normal((n, 3))
        y = _responses(rng, X, weights).astype(np.float32)
        darrays = [nib.gifti.GiftiDataArray(row) for row in y]
        nib.save(
            nib.gifti.GiftiImage(darrays=darrays, meta=meta), root / f"{run}.func.gii"
        )
        np.save(root / "feats" / f"{run}.npy", X)
    return root


def test_fit_gifti_series_writes_the_r_map(gifti, capsys):
    root = gifti
    out = root / "res"
    argv = ["fit", "--features", str(root / "feats"), "--responses",
            str(root / "run-*.func.gii"), "--param", "backend=numpy",
            "--param", "delays=[1, 2]", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "10242 targets (vertices)" in err
    r = _scores(out / "scores.csv")
    assert r.mean() > 0.6
    img = nib.load(out / "r.func.gii")
    assert img.meta["AnatomicalStructurePrimary"] == "CortexLeft"
    assert len(img.darrays) == 1
    np.testing.assert_array_equal(img.darrays[0].data, r.astype(np.float32))
    assert not (out / "mask.func.gii").exists()  # every vertex is a target
    png = out / "figures" / "r_map.png"
    assert png.stat().st_size > 10_000
