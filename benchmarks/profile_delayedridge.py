"""Profile one DelayedRidge fit (cProfile), 1 BLAS thread, in a fresh process.

``python benchmarks/profile_delayedridge.py [--size fmri_small] [--backend auto]``
prints the top functions by own time and by cumulative time, and saves the
raw profile (``--out``, default ``/tmp/delayedridge_SIZE_BACKEND.prof``) for
``python -m pstats`` or snakeviz.
"""

import argparse
import os
import subprocess
import sys

from _common import HERE, SIZES, child_env, ensure_data

CHILD = r"""
import cProfile, pstats, sys, time
sys.path.insert(0, {here!r})
import _common
from brainenc import DelayedRidge

d = _common.load_data({size!r}, {seed})
model = DelayedRidge(delays=d["delays"], alphas=d["alphas"], cv=_common.N_FOLDS,
                     backend={backend!r})
model.set_params(cv=2).fit(d["X"][:600], d["Y"][:600, :10], groups=d["groups"][:600])
model.set_params(cv=_common.N_FOLDS)  # warm-up above (imports, first BLAS calls)
prof = cProfile.Profile()
t0 = time.perf_counter()
prof.enable()
model.fit(d["X"], d["Y"], groups=d["groups"])
prof.disable()
print(f"fit: {{time.perf_counter() - t0:.2f}} s (under cProfile), "
      f"backend_={{model.backend_}}, solver_={{model.solver_}}")
prof.dump_stats({out!r})
stats = pstats.Stats(prof).strip_dirs()
stats.sort_stats("tottime").print_stats({top})
stats.sort_stats("cumulative").print_stats({top})
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="fmri_small", choices=list(SIZES))
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or f"/tmp/delayedridge_{args.size}_{args.backend}.prof"
    ensure_data(args.size, args.seed)
    print(f"# load average before: {os.getloadavg()}")
    code = CHILD.format(
        here=str(HERE),
        size=args.size,
        seed=args.seed,
        backend=args.backend,
        out=out,
        top=args.top,
    )
    subprocess.run([sys.executable, "-c", code], env=child_env(), check=True)
    print(f"# load average after: {os.getloadavg()}; profile saved to {out}")


if __name__ == "__main__":
    main()
