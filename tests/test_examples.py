"""Every script in examples/ runs to the end (the docs gallery runs them too).

Each example runs in a fresh interpreter, as a user would run it, with
matplotlib's non-interactive backend and one BLAS thread (two threads per
process on a loaded 2-core machine slow the ridge solvers many times over).
The examples print their results; the figures are checked by looking at the
docs build. An example that needs an optional dependency (torch and skorch
for the neural encoders, nitime for its data, nibabel and nilearn for brain
maps) is skipped without it.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))
SRC = Path(__file__).resolve().parents[1] / "src"

# Optional dependencies, by the import that reveals them in an example.
OPTIONAL = {
    r"^\s*(from|import) brainenc\.neural\b": ("torch", "skorch"),
    r"^\s*import nitime\b": ("nitime",),
    r"^\s*import nibabel\b": ("nibabel", "nilearn"),
}


def _missing(source):
    missing = []
    for pattern, modules in OPTIONAL.items():
        if re.search(pattern, source, flags=re.MULTILINE):
            missing += [m for m in modules if importlib.util.find_spec(m) is None]
    return missing


def test_examples_are_found():
    names = {path.name for path in EXAMPLES}
    assert {"quickstart.py", "nitime_fir.py", "banded_vs_stacked.py"} <= names
    assert len(names) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_has_gallery_format(path):
    source = path.read_text()
    # sphinx-gallery: a docstring with an underlined title, then # %% cells.
    assert re.match(r'"""\n(.+)\n(=+)\n', source), path.name
    title, underline = re.match(r'"""\n(.+)\n(=+)\n', source).groups()
    assert len(underline) >= len(title), path.name
    assert "\n# %%\n" in source, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs(path, tmp_path):
    missing = _missing(path.read_text())
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)}")
    env = dict(os.environ)
    env.update(
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")])),
    )
    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,  # examples must not depend on the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"{path.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )
    assert result.stdout.strip(), f"{path.name} printed nothing"
    assert "Traceback" not in result.stderr
