import numpy as np
import pytest
from scipy import stats

from brainenc import DelayedRidge, __version__
from brainenc.io import (
    load_model,
    load_repeats,
    load_runs,
    save_model,
    zscore_runs,
)

h5py = pytest.importorskip("h5py")


def _write_h5(path, **arrays):
    with h5py.File(path, "w") as file:
        for key, value in arrays.items():
            file.create_dataset(key, data=value)


@pytest.fixture
def runs(tmp_path):
    """Three runs (names sort naturally: run-2 before run-10), two spaces."""
    rng = np.random.default_rng(0)
    lengths = {"run-1": 40, "run-2": 35, "run-10": 30}
    truth = {}
    for run, n in lengths.items():
        audio, video, y = (
            rng.standard_normal((n, 4)),
            rng.standard_normal((n, 2)),
            rng.standard_normal((n, 3)),
        )
        truth[run] = (audio, video, y)
        _write_h5(tmp_path / f"{run}.h5", audio=audio, video=video)
        (tmp_path / "audio").mkdir(exist_ok=True)
        (tmp_path / "video").mkdir(exist_ok=True)
        (tmp_path / "bold").mkdir(exist_ok=True)
        np.save(tmp_path / "audio" / f"{run}.npy", audio)
        np.save(tmp_path / "video" / f"{run}.npy", video)
        np.save(tmp_path / "bold" / f"{run}.npy", y)
    return tmp_path, truth


def test_h5_keys_become_feature_spaces(runs):
    root, truth = runs
    data = load_runs(root / "*.h5", root / "bold", dtype="float64")
    order = ["run-1", "run-2", "run-10"]
    assert data.runs == order
    expected_X = np.vstack([np.hstack(truth[r][:2]) for r in order])
    np.testing.assert_array_equal(data.X, expected_X)
    np.testing.assert_array_equal(data.y, np.vstack([truth[r][2] for r in order]))
    assert data.groups.tolist() == ["run-1"] * 40 + ["run-2"] * 35 + ["run-10"] * 30
    assert data.feature_spaces == {"audio": slice(0, 4), "video": slice(4, 6)}
    assert data.adjusted == {}
    assert data.n_samples_per_run == {"run-1": 40, "run-2": 35, "run-10": 30}
    assert data.X.dtype == np.float64


def test_named_npy_sources_equal_h5(runs):
    root, _ = runs
    from_h5 = load_runs(root / "*.h5", root / "bold")
    from_npy = load_runs(
        {"audio": root / "audio", "video": root / "video"}, root / "bold"
    )
    np.testing.assert_array_equal(from_h5.X, from_npy.X)
    assert from_npy.feature_spaces == from_h5.feature_spaces
    assert from_npy.X.dtype == np.float32


def test_runs_select_and_order(runs):
    root, truth = runs
    data = load_runs(root / "*.h5", root / "bold", runs=["run-10", "run-1"])
    assert data.runs == ["run-10", "run-1"]
    np.testing.assert_allclose(data.y[:30], truth["run-10"][2], rtol=1e-6)


def test_features_only_and_feature_keys(runs):
    root, truth = runs
    data = load_runs(root / "*.h5", feature_keys=["video"], dtype="float64")
    assert data.y is None
    assert data.feature_spaces == {"video": slice(0, 2)}
    np.testing.assert_array_equal(data.X[:40], truth["run-1"][1])


def test_trim_cuts_every_array_to_the_shortest(tmp_path):
    rng = np.random.default_rng(1)
    audio, video, y = rng.random((52, 3)), rng.random((51, 2)), rng.random((50, 4))
    np.savez(tmp_path / "run-a_feat.npz", audio=audio, video=video)
    np.save(tmp_path / "run-a_bold.npy", y)
    data = load_runs(
        tmp_path / "*_feat.npz",
        tmp_path / "*_bold.npy",
        run_pattern=r"(run-\w)_",
        dtype="float64",
    )
    np.testing.assert_array_equal(data.X, np.hstack([audio[:50], video[:50]]))
    np.testing.assert_array_equal(data.y, y)
    assert data.adjusted == {"run-a": "trimmed to 50 samples"}
    assert data.lengths["run-a"] == {"audio": 52, "video": 51, "responses": 50}


def test_pad_brings_features_to_the_responses_length(tmp_path):
    rng = np.random.default_rng(2)
    short, long, y = rng.random((48, 2)), rng.random((53, 1)), rng.random((50, 2))
    np.savez(tmp_path / "r1.npz", short=short, long=long)
    (tmp_path / "y").mkdir()
    np.save(tmp_path / "y" / "r1.npy", y)
    data = load_runs(
        tmp_path / "r1.npz", tmp_path / "y", length_mismatch="pad", dtype="float64"
    )
    assert data.X.shape == (50, 3)
    np.testing.assert_array_equal(data.X[:48, :2], short)
    # the last sample repeated, never zeros or the responses
    np.testing.assert_array_equal(data.X[48:, :2], np.vstack([short[-1], short[-1]]))
    np.testing.assert_array_equal(data.X[:, 2], long[:50, 0])
    np.testing.assert_array_equal(data.y, y)


def test_length_errors_name_the_run_and_lengths(tmp_path):
    rng = np.random.default_rng(3)
    np.save(tmp_path / "f.npy", rng.random((60, 2)))
    (tmp_path / "y").mkdir()
    np.save(tmp_path / "y" / "f.npy", rng.random((50, 2)))
    with pytest.raises(
        ValueError,
        match=r"run 'f': lengths differ by 10 samples \(features 60, responses 50\), "
        r"more than max_mismatch=5",
    ):
        load_runs(tmp_path / "f.npy", tmp_path / "y")
    data = load_runs(tmp_path / "f.npy", tmp_path / "y", max_mismatch=10)
    assert data.X.shape == (50, 2)
    with pytest.raises(
        ValueError, match=r"run 'f': lengths differ \(features 60, responses 50 "
    ):
        load_runs(
            tmp_path / "f.npy", tmp_path / "y", length_mismatch="error", max_mismatch=20
        )


def test_mismatched_runs(runs):
    root, _ = runs
    (root / "bold" / "run-10.npy").unlink()
    with pytest.raises(
        ValueError,
        match=r"mismatched runs: run 'run-10' has features but no responses",
    ):
        load_runs(root / "*.h5", root / "bold")
    with pytest.raises(
        ValueError, match=r"mismatched runs: run 'run-10' has no responses file"
    ):
        load_runs(root / "*.h5", root / "bold", runs=["run-1", "run-10"])
    data = load_runs(root / "*.h5", root / "bold", runs=["run-1", "run-2"])
    assert data.runs == ["run-1", "run-2"]


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"features file not found: '.*nope"):
        load_runs(tmp_path / "nope.h5", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"features: no .* file matches"):
        load_runs(tmp_path / "*.h5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no .* file in directory"):
        load_runs(tmp_path / "empty")


def test_nan_in_features_names_run_and_space(runs):
    root, truth = runs
    audio, video, _ = truth["run-2"]
    video = video.copy()
    video[[3, 7]] = np.nan
    _write_h5(root / "run-2.h5", audio=audio, video=video)
    with pytest.raises(
        ValueError,
        match=r"run 'run-2': features 'video' contain NaN or inf at 2 sample\(s\) "
        r"\(first: sample 3\)",
    ):
        load_runs(root / "*.h5", root / "bold")


def test_nan_in_responses(runs):
    root, truth = runs
    y = truth["run-1"][2].copy()
    y[5, 1] = np.nan
    np.save(root / "bold" / "run-1.npy", y)
    with pytest.raises(ValueError, match=r"run 'run-1': responses .* NaN or inf"):
        load_runs(root / "*.h5", root / "bold")
    data = load_runs(root / "*.h5", root / "bold", allow_nan_responses=True)
    assert np.isnan(data.y).sum() == 1


def test_feature_spaces_must_agree_across_runs(runs):
    root, truth = runs
    _write_h5(root / "run-2.h5", audio=truth["run-2"][0])
    with pytest.raises(
        ValueError,
        match=r"run 'run-2' has feature spaces \{'audio': 4\} but run 'run-1' has "
        r"\{'audio': 4, 'video': 2\}",
    ):
        load_runs(root / "*.h5", root / "bold")


def test_response_key(tmp_path):
    rng = np.random.default_rng(4)
    np.save(tmp_path / "r.npy", rng.random((20, 2)))
    (tmp_path / "y").mkdir()
    bold = rng.random((20, 3))
    _write_h5(tmp_path / "y" / "r.h5", bold=bold, mask=np.ones(20))
    with pytest.raises(ValueError, match=r"holds 2 arrays .* name the one to read"):
        load_runs(tmp_path / "r.npy", tmp_path / "y")
    data = load_runs(tmp_path / "r.npy", tmp_path / "y", response_key="bold")
    np.testing.assert_allclose(data.y, bold, rtol=1e-6)


def test_pickled_arrays_are_refused(tmp_path):
    np.save(tmp_path / "r.npy", np.array([{"a": 1}] * 3, dtype=object))
    with pytest.raises(ValueError, match=r"cannot read '.*r.npy': Object arrays"):
        load_runs(tmp_path / "r.npy")


def test_two_files_for_one_run(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "a" / "r.npy", np.zeros((5, 1)))
    np.save(tmp_path / "b" / "r.npy", np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"two files for run 'r'"):
        load_runs([tmp_path / "a", tmp_path / "b"])


def test_zscore_runs_matches_scipy():
    rng = np.random.default_rng(5)
    X = rng.normal(3.0, 2.0, size=(30, 3))
    X[10:20, 2] = 7.0  # constant within run 1
    groups = np.repeat([0, 1, 2], 10)
    before = X.copy()
    Z = zscore_runs(X, groups)
    np.testing.assert_array_equal(X, before)
    for run in range(3):
        rows = groups == run
        expected = np.zeros((10, 3))
        varying = [0, 1] if run == 1 else [0, 1, 2]  # column 2 constant in run 1
        expected[:, varying] = stats.zscore(X[rows][:, varying], axis=0)
        np.testing.assert_allclose(Z[rows], expected, atol=1e-12)


def test_load_runs_zscore_both(runs):
    root, _ = runs
    raw = load_runs(root / "*.h5", root / "bold", dtype="float64")
    z = load_runs(root / "*.h5", root / "bold", zscore="both", dtype="float64")
    np.testing.assert_allclose(z.X, zscore_runs(raw.X, raw.groups))
    np.testing.assert_allclose(z.y, zscore_runs(raw.y, raw.groups))
    with pytest.raises(ValueError, match=r"zscore must be None, 'features'"):
        load_runs(root / "*.h5", zscore="all")


def test_load_repeats(tmp_path):
    rng = np.random.default_rng(6)
    reps = rng.random((3, 20, 4))
    np.save(tmp_path / "a.npy", reps)
    np.testing.assert_array_equal(load_repeats(tmp_path / "a.npy"), reps)
    # one 2-D array per repeat, stacked in natural key order
    np.savez(tmp_path / "b.npz", rep10=reps[2], rep2=reps[1], rep1=reps[0])
    np.testing.assert_array_equal(load_repeats(tmp_path / "b.npz"), reps)
    _write_h5(tmp_path / "c.h5", responses=reps, other=reps[:, :5])
    with pytest.raises(ValueError, match=r"must hold one array of shape"):
        load_repeats(tmp_path / "c.h5")
    np.testing.assert_array_equal(
        load_repeats(tmp_path / "c.h5", key="responses"), reps
    )
    with pytest.raises(FileNotFoundError, match=r"repeats file not found"):
        load_repeats(tmp_path / "missing.npy")


def _fitted_model():
    rng = np.random.default_rng(7)
    X, y = rng.random((60, 3)), rng.random((60, 2))
    return DelayedRidge(delays=2, backend="numpy").fit(X, y), X


def test_model_round_trip(tmp_path):
    model, X = _fitted_model()
    path = save_model(tmp_path / "m.pkl", model, model_name="ridge", n=3)
    loaded, header = load_model(path)
    assert header["brainenc_version"] == __version__
    assert header["metadata"] == {"model_name": "ridge", "n": 3}
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_incompatible_version_is_refused_before_unpickling(tmp_path):
    model, _ = _fitted_model()
    path = save_model(tmp_path / "m.pkl", model)
    raw = path.read_bytes()
    header, _, payload = raw.partition(b"\n")
    # a payload that would fail loudly if it were unpickled
    path.write_bytes(
        header.replace(__version__.encode(), b"9.3.1") + b"\n" + b"garbage"
    )
    with pytest.raises(
        ValueError,
        match=r"was saved by brainenc 9.3.1, which is incompatible with the "
        r"installed brainenc",
    ):
        load_model(path)
    assert payload  # the original file did hold a pickle


def test_not_a_model_file(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"is not a brainenc model file"):
        load_model(tmp_path / "x.npy")


def test_load_runs_reports_progress_to_a_callback(runs):
    root, _ = runs
    calls = []
    data = load_runs(root / "*.h5", root / "bold", callback=lambda *a: calls.append(a))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert data.runs == ["run-1", "run-2", "run-10"]
    # a progress bar is such a callable
    from brainenc._progress import progress_bar

    with progress_bar("runs", verbose=0) as bar:
        load_runs(root / "*.h5", root / "bold", callback=bar)
