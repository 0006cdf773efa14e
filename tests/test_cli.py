import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import brainenc
from brainenc import DelayedRidge
from brainenc.cli import main
from brainenc.datasets import make_multispace_data
from brainenc.io import load_model


def _table(text):
    """Parse the ``name  value`` rows of the demo's results table."""
    rows = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(.+?)\s{2,}(\S+)", line.strip())
        if match:
            try:
                rows[match.group(1)] = float(match.group(2))
            except ValueError:  # a path, not a number
                continue
    return rows


def _subprocess_env():
    # Make the package importable in the child even without an install.
    env = dict(os.environ)
    src = str(Path(brainenc.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


def test_demo_default_snr(capsys):
    code = main(["demo", "--n-targets", "50", "--seed", "0"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == ""
    assert "Synthetic data: 1800 samples in 6 runs" in captured.out
    assert "testing on run 5 (300 samples)" in captured.out
    rows = _table(captured.out)
    assert set(rows) >= {
        "held-out mean r",
        "noise ceiling",
        "ratio",
        "median alpha",
        "fit time (s)",
    }
    # SNR 1: the noise ceiling is sqrt(1/2) = 0.707 up to sampling noise.
    assert rows["noise ceiling"] == pytest.approx(0.707, abs=0.03)
    assert rows["held-out mean r"] > 0.5
    assert 0.85 <= rows["ratio"] <= 1.05
    assert rows["ratio"] == pytest.approx(
        rows["held-out mean r"] / rows["noise ceiling"], abs=2e-3
    )
    assert rows["median alpha"] > 0
    assert rows["fit time (s)"] >= 0


def test_demo_quiet_prints_only_the_table(capsys):
    code = main(["demo", "--n-targets", "10", "--n-samples", "900", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("held-out mean r")
    assert len(_table(out)) == 5


def test_demo_low_snr_lowers_the_ceiling(capsys):
    assert main(["demo", "--snr", "0.25", "--n-targets", "40", "--quiet"]) == 0
    rows = _table(capsys.readouterr().out)
    # sqrt(0.25 / 1.25) = 0.447
    assert rows["noise ceiling"] == pytest.approx(0.447, abs=0.04)
    assert 0.3 < rows["held-out mean r"] <= rows["noise ceiling"] + 0.02
    assert 0.8 <= rows["ratio"] <= 1.05


def test_demo_is_reproducible(capsys):
    argv = ["demo", "--n-targets", "8", "--n-samples", "900", "--seed", "3"]
    main([*argv, "--quiet"])
    first = _table(capsys.readouterr().out)
    main([*argv, "--quiet"])
    second = _table(capsys.readouterr().out)
    for key in ("held-out mean r", "noise ceiling", "ratio", "median alpha"):
        assert first[key] == second[key]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"brainenc {brainenc.__version__}"


def test_help(capsys):
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--n-targets", "--snr", "--backend", "--seed", "--quiet"):
        assert option in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["train"], "invalid choice: 'train'"),
        (["fit", "--features", "f.h5", "--responses", "r"], "required: --out"),
        (["demo", "--n-targets", "0"], "argument --n-targets: expected an int >= 1"),
        (["demo", "--n-targets", "many"], "argument --n-targets"),
        (["demo", "--snr", "-1"], "argument --snr: expected a number > 0"),
        (["demo", "--snr", "nan"], "argument --snr"),
        (["demo", "--backend", "jax"], "argument --backend: invalid choice"),
        (["demo", "--bogus"], "unrecognized arguments: --bogus"),
        (
            [
                "fit",
                "--features",
                "f",
                "--responses",
                "r",
                "--out",
                "o",
                "--permutations",
                "-1",
            ],
            "argument --permutations: expected an int >= 0, got -1",
        ),  # fmt: skip
    ],
)
def test_bad_arguments_are_argparse_errors(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: brainenc")
    assert message in err


def test_command_error_is_one_line_exit_1(capsys):
    # Too few runs to train, cross-validate and test: raised inside the command.
    assert main(["demo", "--n-runs", "2", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "brainenc: error: --n-runs must be at least 3 (two to train and "
        "cross-validate on, one to test on), got 2.\n"
    )


def test_library_error_is_one_line_exit_1(capsys):
    # make_encoding_data rejects runs shorter than the delays.
    assert main(["demo", "--n-samples", "12", "--n-runs", "4", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("brainenc: error: every run must be longer")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_python_dash_m_brainenc_demo():
    proc = subprocess.run(
        [sys.executable, "-m", "brainenc", "demo", "--quiet", "--n-targets", "20"],
        capture_output=True,
        text=True,
        env=_subprocess_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = _table(proc.stdout)
    assert rows["held-out mean r"] > 0.5
    assert 0.85 <= rows["ratio"] <= 1.05


def test_python_dash_m_brainenc_error_exit_code():
    proc = subprocess.run(
        [sys.executable, "-m", "brainenc", "demo", "--n-runs", "2"],
        capture_output=True,
        text=True,
        env=_subprocess_env(),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("brainenc: error: --n-runs must be at least 3")
    assert "Traceback" not in proc.stderr


def test_console_script_version():
    script = Path(sys.executable).parent / "brainenc"
    if not script.exists():
        pytest.skip("the brainenc console script is not installed in this Python")
    proc = subprocess.run(
        [str(script), "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"brainenc {brainenc.__version__}"


# --------------------------------------------------------------------------
# brainenc fit / predict / score on a folder of per-run files

h5py = pytest.importorskip("h5py")

RUN_LENGTHS = {"run-1": 130, "run-2": 110, "run-3": 120, "run-4": 100}
N_TARGETS = 12


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Per-run .h5 features (audio, video) and .npy responses of different lengths.

    run-2's audio has 2 extra samples (trimmed by the default policy). The same
    features are also written as one .npy file per run and space.
    """
    root = tmp_path_factory.mktemp("runs")
    X, y, _, truth = make_multispace_data(
        sum(RUN_LENGTHS.values()),
        space_sizes=(5, 3),
        n_targets=N_TARGETS,
        n_runs=1,
        random_state=0,
    )
    rng = np.random.default_rng(1)
    for folder in ("features", "responses", "audio", "video"):
        (root / folder).mkdir()
    start, runs = 0, {}
    for run, n in RUN_LENGTHS.items():
        Xr, yr = X[start : start + n], y[start : start + n]
        start += n
        audio = Xr[:, :5]
        if run == "run-2":
            audio = np.vstack([audio, rng.standard_normal((2, 5))])
        with h5py.File(root / "features" / f"{run}.h5", "w") as file:
            file["audio"] = audio
            file["video"] = Xr[:, 5:]
        np.save(root / "audio" / f"{run}.npy", audio)
        np.save(root / "video" / f"{run}.npy", Xr[:, 5:])
        np.save(root / "responses" / f"{run}.npy", yr)
        runs[run] = (Xr, yr)
    repeats = truth.y_clean[-100:] + rng.standard_normal((3, 100, N_TARGETS))
    np.save(root / "repeats.npy", repeats)
    return root, runs, repeats


@pytest.fixture(scope="module")
def fitted(dataset, tmp_path_factory):
    root, _, _ = dataset
    out = tmp_path_factory.mktemp("fit") / "out"
    argv = [
        "fit",
        "--features", str(root / "features"),
        "--responses", str(root / "responses"),
        "--param", "backend=numpy",
        "--param", "delays=[1, 2, 3, 4]",
        "--repeats", str(root / "repeats.npy"),
        "--tr", "2",
        "--out", str(out),
    ]  # fmt: skip
    return out, argv


def _read_csv(path):
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def test_fit_writes_every_output(dataset, fitted, capsys):
    root, runs, repeats = dataset
    out, argv = fitted
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "run 'run-2': trimmed to 110 samples (audio 112, video 110" in captured.err
    assert "testing on run-4 (100 samples)" in captured.err
    for name in ("model.pkl", "predictions.npz", "scores.csv", "summary.json"):
        assert (out / name).is_file()
    for name in ("score_distribution", "scores_vs_ceiling", "delay_profile"):
        png = out / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 10_000  # drawn, not blank

    # Held-out scores: refit by hand on runs 1-3 from the arrays themselves
    # (run-2 trimmed), Pearson r from scipy on run 4.
    X_train = np.vstack([runs[r][0] for r in ("run-1", "run-2", "run-3")])
    y_train = np.vstack([runs[r][1] for r in ("run-1", "run-2", "run-3")])
    g_train = np.repeat([1, 2, 3], [130, 110, 120])
    by_hand = DelayedRidge(delays=4, backend="numpy").fit(
        X_train.astype(np.float32), y_train.astype(np.float32), groups=g_train
    )
    X_test, y_test = runs["run-4"]
    pred = by_hand.predict(X_test.astype(np.float32))
    expected_r = [stats.pearsonr(y_test[:, t], pred[:, t])[0] for t in range(12)]
    table = _read_csv(out / "scores.csv")
    np.testing.assert_array_equal(table["target"], np.arange(N_TARGETS))
    np.testing.assert_allclose(table["r"], expected_r, atol=1e-5)
    np.testing.assert_array_equal(table["alpha"], by_hand.best_alphas_)
    # noise ceiling of single trials, by the formula
    noise = repeats.var(axis=0, ddof=1).mean(axis=0)
    signal = np.maximum(repeats.mean(axis=0).var(axis=0, ddof=1) - noise / 3, 0)
    np.testing.assert_allclose(table["ceiling"], np.sqrt(signal / (signal + noise)))

    summary = json.loads((out / "summary.json").read_text())
    assert summary["brainenc_version"] == brainenc.__version__
    assert summary["scores"]["mean_r"] == pytest.approx(table["r"].mean())
    assert summary["scores"]["mean_ceiling"] == pytest.approx(table["ceiling"].mean())
    assert summary["data"]["train_runs"] == ["run-1", "run-2", "run-3"]
    assert summary["data"]["test_runs"] == ["run-4"]
    assert summary["data"]["feature_spaces"] == {"audio": 5, "video": 3}
    assert summary["data"]["adjusted_runs"] == {"run-2": "trimmed to 110 samples"}
    assert summary["hyperparameters"]["alpha_median"] == pytest.approx(
        float(np.median(by_hand.best_alphas_))
    )
    assert summary["hyperparameters"]["delays"] == [1, 2, 3, 4]
    assert summary["params"]["backend"] == "numpy"
    assert set(summary["timings_s"]) == {"load", "fit", "predict", "figures", "total"}
    assert summary["versions"]["numpy"] == np.__version__
    # stdout: the results table
    assert _table(captured.out)["held-out mean r"] == pytest.approx(
        table["r"].mean(), abs=5e-5
    )

    model, header = load_model(out / "model.pkl")
    assert header["brainenc_version"] == brainenc.__version__
    assert header["metadata"]["test_runs"] == ["run-4"]
    assert model.verbose == 0
    np.testing.assert_allclose(model.coef_, by_hand.coef_, rtol=1e-5, atol=1e-7)


def test_predict_reproduces_the_held_out_predictions(dataset, fitted, tmp_path):
    root, _, _ = dataset
    out, argv = fitted
    if not (out / "model.pkl").exists():
        assert main(argv) == 0
    target = tmp_path / "pred.npz"
    # the features again, this time as one .npy file per space and run
    code = main(
        [
            "predict", str(out),
            "--features", f"audio={root / 'audio'}", f"video={root / 'video'}",
            "--runs", "run-4",
            "--out", str(target),
            "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    with np.load(target) as new, np.load(out / "predictions.npz") as held_out:
        assert list(new.files) == ["run-4"]
        np.testing.assert_array_equal(new["run-4"], held_out["run-4"])


def test_score_matches_the_csv(dataset, fitted, tmp_path, capsys):
    root, _, _ = dataset
    out, argv = fitted
    if not (out / "model.pkl").exists():
        assert main(argv) == 0
    capsys.readouterr()
    code = main(
        [
            "score", str(out / "model.pkl"),
            "--features", str(root / "features" / "run-4.h5"),
            "--responses", str(root / "responses"),
            "--runs", "run-4",
            "--out", str(tmp_path / "scores.csv"),
            "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    fit_scores = _read_csv(out / "scores.csv")["r"]
    new_scores = _read_csv(tmp_path / "scores.csv")["r"]
    np.testing.assert_array_equal(new_scores, fit_scores)
    assert _table(capsys.readouterr().out)["mean r"] == pytest.approx(
        fit_scores.mean(), abs=5e-5
    )


def test_fit_with_permutations(dataset, fitted, tmp_path, capsys):
    """p, q and p_fwe in scores.csv are brainenc.stats on the written held-out
    predictions; the counts in summary.json and the figure follow them."""
    from brainenc.stats import fdr_correction, permutation_test

    root, runs, _ = dataset
    _, argv = fitted
    out = tmp_path / "out"
    argv = [*argv[: argv.index("--out")], "--out", str(out), "--seed", "3"]
    assert main([*argv, "--permutations", "199"]) == 0
    captured = capsys.readouterr()
    assert "permutation test of 12 targets (199 shifts)" in captured.err
    table = _read_csv(out / "scores.csv")
    assert list(table)[-3:] == ["p", "q", "p_fwe"]
    y_test = runs["run-4"][1].astype(np.float32)  # as the command loads it
    y_pred = np.load(out / "predictions.npz")["run-4"]
    expected = permutation_test(y_test, y_pred, n_permutations=199, random_state=3)
    np.testing.assert_array_equal(table["p"], expected.p_values)
    np.testing.assert_array_equal(table["p_fwe"], expected.p_values_fwe)
    rejected, q = fdr_correction(expected.p_values)
    np.testing.assert_array_equal(table["q"], q)
    # the model predicts these targets well: nearly all are significant
    assert rejected.sum() >= 10
    summary = json.loads((out / "summary.json").read_text())["significance"]
    assert summary["n_permutations"] == 199
    assert summary["seed"] == 3
    assert summary["n_targets"] == N_TARGETS
    assert summary["n_significant_fdr"] == int(rejected.sum())
    assert summary["n_significant_fwe"] == int(np.sum(expected.p_values_fwe <= 0.05))
    assert summary["n_significant_uncorrected"] == int(np.sum(table["p"] <= 0.05))
    assert summary["smallest_possible_p"] == 1 / 200
    assert _table(captured.out)["significant (FDR q<=0.05)"] == rejected.sum()
    png = out / "figures" / "significance.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_fit_without_permutations_has_no_significance(fitted):
    out, argv = fitted
    if not (out / "summary.json").exists():
        assert main(argv) == 0
    assert "significance" not in json.loads((out / "summary.json").read_text())
    assert "p" not in _read_csv(out / "scores.csv")
    assert not (out / "figures" / "significance.png").exists()


def test_significance_of_held_out_runs(capsys):
    """The function the fit command calls: two held-out runs stay apart, a
    target with missing values skips the test with a warning."""
    from brainenc.cli import _Log, _significance
    from brainenc.stats import permutation_test

    rng = np.random.default_rng(0)
    y_true = rng.standard_normal((200, 4))
    y_pred = y_true + rng.standard_normal((200, 4))
    groups = np.repeat(["run-5", "run-6"], 100)

    def test(y_true, keep_null):
        return _significance(
            y_true,
            y_pred,
            groups,
            50,
            seed=0,
            missing=bool(np.isnan(y_true).any()),
            keep_null=keep_null,
            log=_Log(quiet=True),
        )

    result = test(y_true, keep_null=False)
    expected = permutation_test(
        y_true, y_pred, groups=groups, n_permutations=50, random_state=0
    )
    np.testing.assert_array_equal(result.columns["p"], expected.p_values)
    assert "null" not in result.test  # no figure: the null is not kept
    np.testing.assert_array_equal(test(y_true, True).test.null.shape, (50, 4))
    assert result.summary["n_significant_fdr"] == 4
    y_true[3, 1] = np.nan
    skipped = test(y_true, keep_null=True)
    assert skipped.columns == {}
    assert skipped.test is None
    assert skipped.summary == {"skipped": "missing values"}
    assert "warning: --permutations skipped" in capsys.readouterr().err


def test_fit_stacked(dataset, tmp_path, capsys):
    root, _, _ = dataset
    out = tmp_path / "stacked"
    code = main(
        [
            "fit",
            "--features", f"audio={root / 'audio'}", f"video={root / 'video'}",
            "--responses", str(root / "responses"),
            "--model", "stacked",
            "--param", "cv=3",
            "--param", "backend=numpy",
            "--n-test-runs", "1",
            "--out", str(out),
            "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().err == ""
    model, _ = load_model(out / "model.pkl")
    assert model.cv == 3
    assert [est.backend for est in model.estimators_] == ["numpy", "numpy"]
    table = _read_csv(out / "scores.csv")
    np.testing.assert_allclose(table["weight_audio"], model.weights_[0])
    np.testing.assert_allclose(table["weight_audio"] + table["weight_video"], 1.0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hyperparameters"]["weights_mean"] == pytest.approx(
        dict(zip(["audio", "video"], model.weights_.mean(axis=1), strict=True))
    )
    for name in (
        "stacking_weights",
        "score_distribution",
        "delay_profile_audio",
        "delay_profile_video",
    ):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    assert not (out / "figures" / "scores_vs_ceiling.png").exists()


def test_fit_transformer_reports_its_layer_attention(dataset, tmp_path, capsys):
    pytest.importorskip("torch")
    root, _, _ = dataset
    out = tmp_path / "transformer"
    code = main(
        [
            "fit",
            "--features", f"audio={root / 'audio'}", f"video={root / 'video'}",
            "--responses", str(root / "responses"),
            "--model", "transformer",
            "--param", "n_layers={'audio': 5}",
            "--param", "hidden_dim=8",
            "--param", "depth=1",
            "--param", "heads=2",
            "--param", "window_len=16",
            "--param", "windows_per_epoch=32",
            "--param", "max_epochs=1",
            "--param", "min_steps=0",
            "--param", "device='cpu'",
            "--out", str(out),
            "--quiet",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    model, _ = load_model(out / "model.pkl")
    assert model.n_layers_ == {"audio": 5, "video": 1}
    summary = json.loads((out / "summary.json").read_text())
    hyper = summary["hyperparameters"]
    profile = model.layer_attention_["audio"].mean(axis=(0, 1))
    assert hyper["layer_attention"] == {"audio": pytest.approx(profile.tolist())}
    assert hyper["layer_attention_peak"] == {"audio": int(profile.argmax())}
    assert hyper["n_layers"] == {"audio": 5, "video": 1}
    assert (out / "figures" / "layer_attention.png").stat().st_size > 10_000


@pytest.fixture
def broken(dataset, tmp_path):
    """A copy of the data to break."""
    root, _, _ = dataset
    copy = tmp_path / "data"
    shutil.copytree(root, copy)
    return copy


def _fit_args(root, out, *extra):
    return [
        "fit",
        "--features", str(root / "features"),
        "--responses", str(root / "responses"),
        "--param", "backend=numpy",
        "--out", str(out),
        *extra,
    ]  # fmt: skip


def _break_nan(root):
    with h5py.File(root / "features" / "run-3.h5", "a") as file:
        file["video"][5, 1] = np.nan


def _break_run(root):
    (root / "responses" / "run-2.npy").unlink()


def _break_length(root):
    np.save(root / "responses" / "run-1.npy", np.zeros((100, N_TARGETS)))


def _break_nothing(root):
    pass


@pytest.mark.parametrize(
    ("breaker", "extra", "message"),
    [
        (
            _break_nothing,
            ["--responses", "/no/such/responses.npy"],
            "responses file not found: '/no/such/responses.npy'.",
        ),
        (
            _break_run,
            [],
            "mismatched runs: run 'run-2' has features but no responses",
        ),
        (
            _break_nan,
            [],
            "run 'run-3': features 'video' contain NaN or inf at 1 sample(s) "
            "(first: sample 5)",
        ),
        (
            _break_length,
            [],
            "run 'run-1': lengths differ by 30 samples (audio 130, video 130, "
            "responses 100), more than max_mismatch=5",
        ),
        (
            _break_nothing,
            ["--model", "lasso"],
            "unknown model 'lasso'; choose one of delayed-ridge, stacked, pca-mlp, "
            "conv, transformer.",
        ),
        (
            _break_nothing,
            ["--param", "lambda=3"],
            "unknown parameter 'lambda' for model 'delayed-ridge'; valid parameters: "
            "alpha_per_target, alphas, backend,",
        ),
        (_break_nothing, ["--param", "alphas"], "--param expects KEY=VALUE, got"),
        (
            _break_nothing,
            ["--param", "alphas='many'", "--quiet"],
            "The 'alphas' parameter of DelayedRidge must be",
        ),
        (
            _break_nothing,
            ["--test-runs", "run-9"],
            "--test-runs names run 'run-9', which is not among the loaded runs",
        ),
    ],
)
def test_bad_input_is_one_line(broken, tmp_path, capsys, breaker, extra, message):
    breaker(broken)
    code = main(_fit_args(broken, tmp_path / "out", *extra))
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith(f"brainenc: error: {message}"), err


def test_incompatible_model_file(fitted, dataset, tmp_path, capsys):
    root, _, _ = dataset
    out, argv = fitted
    if not (out / "model.pkl").exists():
        assert main(argv) == 0
    header, _, payload = (out / "model.pkl").read_bytes().partition(b"\n")
    old = tmp_path / "old.pkl"
    old.write_bytes(
        header.replace(brainenc.__version__.encode(), b"0.0.1") + b"\n" + payload
    )
    capsys.readouterr()
    code = main(
        ["predict", str(old), "--features", str(root / "features"), "--out",
         str(tmp_path / "p.npz")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert "was saved by brainenc 0.0.1, which is incompatible with the installed " in (
        err
    )


def test_predict_with_other_feature_spaces_fails(fitted, dataset, tmp_path, capsys):
    root, _, _ = dataset
    out, argv = fitted
    if not (out / "model.pkl").exists():
        assert main(argv) == 0
    capsys.readouterr()
    code = main(
        ["predict", str(out), "--features", f"audio={root / 'audio'}", "--out",
         str(tmp_path / "p.npz"), "--quiet"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        "brainenc: error: the feature spaces differ from the model's: it was fitted "
        "on {'audio': 5, 'video': 3}, the files give {'audio': 5}.\n"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("1e-3", 1e-3),
        ("[1, 2, 4]", [1, 2, 4]),
        ("(0.1, 1.0)", (0.1, 1.0)),
        ("True", True),
        ("None", None),
        ("numpy", "numpy"),
        ("'numpy'", "numpy"),
        (
            "__import__('os').system('echo hacked')",
            "__import__('os').system('echo hacked')",
        ),
    ],
)
def test_param_values_are_literals_or_strings(text, value):
    from brainenc.cli import _parse_params

    assert _parse_params([f"key={text}"]) == {"key": value}


def test_fit_bad_input_in_a_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "brainenc", "fit", "--features", str(tmp_path / "x.h5"),
         "--responses", str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=_subprocess_env(),
        timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert (
        proc.stderr == f"brainenc: error: features file not found: '{tmp_path}/x.h5'.\n"
    )


def test_progress_bar_on_a_terminal_only(broken, tmp_path, capsys, monkeypatch):
    import brainenc.cli

    # on a terminal: the library's tqdm bar over the runs, then the log lines
    monkeypatch.setattr(brainenc.cli, "_on_terminal", lambda: True)
    argv = _fit_args(broken, tmp_path / "out", "--no-figures")
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "brainenc: loading runs: 100%" in err
    assert "4/4" in err
    assert "brainenc: loaded 4 runs (" in err
    # elsewhere (a log file, a pipe): no bar, one line per message
    monkeypatch.setattr(brainenc.cli, "_on_terminal", lambda: False)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "loading runs" not in err
    assert "brainenc: loaded 4 runs (" in err
