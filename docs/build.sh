#!/usr/bin/env bash
# Build the HTML documentation, running every example of the gallery.
#
#   docs/build.sh             # full build into docs/_build/html
#   docs/build.sh --no-plot   # API and user guide only, examples not run
#
# Fails on any Sphinx warning (-W --keep-going reports them all first), in
# nitpicky mode (-n): an unknown reference to a brainenc object, a broken
# cross-reference or toctree entry, a docstring numpydoc cannot parse, or an
# example that raises. References to other projects are not checked (no
# intersphinx: the build never uses the network); see docs/conf.py.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export MPLBACKEND=Agg
# One BLAS/OpenMP thread per process: on a 2-core machine with anything else
# running, 2 threads per process slow the ridge solvers 5-40x (DESIGN.md).
export OMP_NUM_THREADS=1
export OPENBLAS_NUM_THREADS=1
export MKL_NUM_THREADS=1
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::DeprecationWarning}"

extra=()
if [[ "${1:-}" == "--no-plot" ]]; then
    extra+=(-D plot_gallery=0)
fi

# A clean build: stale autosummary pages or gallery outputs hide errors.
rm -rf docs/_build docs/generated docs/auto_examples docs/sg_execution_times.rst

python -m sphinx -b html -W --keep-going -n -j 1 "${extra[@]}" docs docs/_build/html
echo "docs built in docs/_build/html/index.html"
