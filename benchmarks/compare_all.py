"""Every tool, one table per size: ``python benchmarks/compare_all.py --size eeg``."""

from _common import TOOLS, main

if __name__ == "__main__":
    main(list(TOOLS), "brainenc DelayedRidge vs every peer and the tight reference")
