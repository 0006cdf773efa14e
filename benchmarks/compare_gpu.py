"""DelayedRidge on a CUDA GPU vs the CPU: ``python benchmarks/compare_gpu.py``.

``backend="torch_cuda"`` against ``backend="numpy"`` (1 BLAS thread) and the
tight reference, on the parcel and voxel sizes by default. The table gives the
speed-up (``time / ref``), the agreement of the held-out predictions with the
CPU reference, and in the notes the GPU memory peak
(``torch.cuda.max_memory_allocated``). Without a GPU the CUDA row fails with
brainenc's own message and the CPU rows still run.
"""

import sys

from _common import main

if __name__ == "__main__":
    if "--size" not in sys.argv:
        sys.argv += ["--size", "parcels", "voxels"]
    main(
        ["brainenc_numpy", "brainenc_cuda"],
        "brainenc DelayedRidge on CUDA vs NumPy and the tight reference",
    )
