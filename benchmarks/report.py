"""Markdown tables of saved runs: ``python benchmarks/report.py RUN.json ...``.

``RUN.json`` is what a comparison script wrote with ``--save``; the tables are
the ones pasted into ``benchmarks/README.md``.
"""

import json
import sys

from _common import format_table

if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as f:
            run = json.load(f)
        m = run["machine"]
        print(
            f"<!-- {path}: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
            f"{m['date']} -->"
        )
        for size, reports in run["results"].items():
            print(format_table(reports, size))
            print()
