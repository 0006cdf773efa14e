"""Every tool, one table per size: ``python benchmarks/compare_all.py --size eeg``."""

from _common import TOOLS, main

if __name__ == "__main__":
    # the CUDA row needs a GPU: benchmarks/compare_gpu.py runs it
    tools = [tool for tool in TOOLS if tool != "brainenc_cuda"]
    main(tools, "brainenc DelayedRidge vs every peer and the tight reference")
