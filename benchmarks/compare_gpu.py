"""DelayedRidge on a CUDA GPU vs the CPU: ``python benchmarks/compare_gpu.py``.

``backend="torch_cuda"`` against ``backend="numpy"`` (1 BLAS thread) and the
tight reference, on the parcel and voxel sizes by default. The table gives the
speed-up (``time / ref``), the agreement of the held-out predictions with the
CPU reference, and in the notes the GPU memory peak
(``torch.cuda.max_memory_allocated``). Without a GPU the CUDA row fails with
brainenc's own message and the CPU rows still run.

``--neural`` adds the CUDA check of the neural encoders: the epoch times of
:class:`brainenc.neural.MultimodalTransformerEncoder`'s defaults on CUDA
(bfloat16 autocast) for the feature layouts of
``benchmarks/transformer_epochs.py``, and the largest difference between a
CUDA-trained model's predictions on the GPU and on the CPU after pickling
(``python benchmarks/transformer_epochs.py --device cuda`` alone does the
same).
"""

import sys

from _common import main

if __name__ == "__main__":
    neural = "--neural" in sys.argv
    if neural:
        sys.argv.remove("--neural")
    if "--size" not in sys.argv:
        sys.argv += ["--size", "parcels", "voxels"]
    main(
        ["brainenc_numpy", "brainenc_cuda"],
        "brainenc DelayedRidge on CUDA vs NumPy and the tight reference",
    )
    if neural:
        import torch
        from transformer_epochs import LAYOUTS, SAMPLES, epochs

        if not torch.cuda.is_available():
            sys.exit("--neural: torch sees no CUDA GPU")
        epochs("cuda", SAMPLES, list(LAYOUTS))
