import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import brainenc
from brainenc.cli import main


def _table(text):
    """Parse the ``name  value`` rows of the demo's results table."""
    rows = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(.+?)\s{2,}(\S+)", line.strip())
        if match:
            rows[match.group(1)] = float(match.group(2))
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
        (["fit"], "invalid choice: 'fit'"),
        (["demo", "--n-targets", "0"], "argument --n-targets: expected an int >= 1"),
        (["demo", "--n-targets", "many"], "argument --n-targets"),
        (["demo", "--snr", "-1"], "argument --snr: expected a number > 0"),
        (["demo", "--snr", "nan"], "argument --snr"),
        (["demo", "--backend", "jax"], "argument --backend: invalid choice"),
        (["demo", "--bogus"], "unrecognized arguments: --bogus"),
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
