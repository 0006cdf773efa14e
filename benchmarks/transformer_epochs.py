"""Epoch times and accuracy of MultimodalTransformerEncoder's defaults.

``python benchmarks/transformer_epochs.py`` (CPU, one torch thread)
``python benchmarks/transformer_epochs.py --device cuda`` (on a GPU: the same
epoch times on CUDA, and a CUDA-trained model predicting on the CPU)

Two parts, both with the estimator's defaults (``hidden_dim=64``, ``depth=2``,
64-sample windows, 1000 windows per epoch):

- ``epochs``: the wall time of one training epoch (the second, warm; it
  includes the validation r of the epoch) for feature layouts from small to a
  backbone's size (``spaces x layers x columns per layer``) at 1 000, 3 000
  and 5 000 training samples (10 runs, the last 2 of them validation), with
  random float32 features: the cost of an epoch depends on the layout and
  the window, hardly on the number of samples. The full default fit is at
  most ``max_epochs`` (15) epochs.
- ``quality`` (``--quality``): complete default fits on
  :func:`brainenc.make_layered_data` (3 spaces of 12 layers x 32 columns,
  each driven by one layer through a rectification and 3 samples of
  context, 50 targets, SNR 1) at 1 000, 3 000 and 5 000 training samples
  (12 runs: 10 to fit, 2 held out): the held-out mean r of the defaults, of
  the same model with ``layer_pooling="mean"``, and of DelayedRidge (delays
  0-3) on the layer-mean features and on all layers; whether the attention
  peaks at the driving layers; the fit times.

With ``--device cuda`` (a GPU present), the epochs part runs on CUDA with
bfloat16 autocast (the default ``mixed_precision=True``) and adds, per
layout, the largest difference between the CUDA model's predictions on the
GPU and the same model's on the CPU after pickling.

Run with ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1``; the
1-minute load average is recorded next to every timing.
"""

import argparse
import json
import os
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from _common import machine_info

#: (n_spaces, n_layers, columns per layer)
LAYOUTS = {
    "small": (2, 6, 32),
    "medium": (3, 12, 256),
    "backbone": (3, 12, 768),
}
SAMPLES = (1000, 3000, 5000)


def load():
    return float(Path("/proc/loadavg").read_text().split()[0])


def epochs(device, sizes, layouts):
    import torch

    from brainenc.neural import MultimodalTransformerEncoder

    rows = []
    for name in layouts:
        n_spaces, n_layers, dim = LAYOUTS[name]
        for n_train in sizes:
            if name == "backbone" and n_train != 3000 and device == "cpu":
                continue  # 0.3-0.5 GB of features per 1000 samples
            n = int(n_train / 0.8)
            rng = np.random.default_rng(0)
            width = n_spaces * n_layers * dim
            X = rng.standard_normal((n, width), dtype=np.float32)
            y = rng.standard_normal((n, 50), dtype=np.float32)
            groups = np.repeat(np.arange(10), -(-n // 10))[:n]
            model = MultimodalTransformerEncoder(
                feature_spaces={f"s{k}": n_layers * dim for k in range(n_spaces)},
                n_layers=n_layers,
                max_epochs=2,
                min_steps=0,
                patience=None,
                device=device,
                random_state=0,
            )
            before = load()
            tic = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # random targets: nothing to learn
                model.fit(X, y, groups=groups)
            total = time.perf_counter() - tic
            epoch = model.history_[1]["dur"]
            steps = model.history_[1]["n_steps"] - model.history_[0]["n_steps"]
            row = {
                "device": device,
                "layout": name,
                "spaces x layers x dim": f"{n_spaces} x {n_layers} x {dim}",
                "n_train": n_train,
                "epoch_s": round(epoch, 2),
                "step_ms": round(1000 * epoch / steps, 1),
                "default_fit_s (15 epochs)": round(15 * epoch, 0),
                "fit_2_epochs_s": round(total, 1),
                "load": f"{before:.2f}-{load():.2f}",
            }
            if device == "cuda":
                row["peak_gpu_MB"] = round(torch.cuda.max_memory_allocated() / 2**20)
                on_gpu = model.predict(X[:2000], groups=groups[:2000])
                cpu = pickle.loads(pickle.dumps(model)).set_params(device="cpu")
                on_cpu = cpu.predict(X[:2000], groups=groups[:2000])
                scale = float(np.abs(on_gpu).max())
                row["max |gpu - cpu| / max |pred|"] = float(
                    np.abs(on_gpu - on_cpu).max() / scale
                )
                torch.cuda.reset_peak_memory_stats()
            print(json.dumps(row), flush=True)
            rows.append(row)
            del X, y, model
    return rows


def quality(device, sizes):
    from brainenc import DelayedRidge
    from brainenc.datasets import make_layered_data
    from brainenc.neural import MultimodalTransformerEncoder

    rows = []
    for n_train in sizes:
        n = int(n_train * 12 / 10)
        X, y, groups, truth = make_layered_data(
            n_samples=n,
            n_spaces=3,
            n_layers=12,
            layer_dim=32,
            n_targets=50,
            n_runs=12,
            snr=1.0,
            random_state=0,
        )
        X, layer_means = X.astype(np.float32), truth.layer_means.astype(np.float32)
        train, test = groups < 10, groups >= 10
        row = {
            "n_train": int(train.sum()),
            "noise_ceiling": round(float(truth.noise_ceiling[:].mean()), 3),
        }
        for pooling in ("attention", "mean"):
            model = MultimodalTransformerEncoder(
                feature_spaces=truth.feature_spaces,
                n_layers=truth.n_layers,
                layer_pooling=pooling,
                device=device,
                random_state=0,
            )
            before = load()
            tic = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(X[train], y[train], groups=groups[train])
            row[f"{pooling}_fit_s"] = round(time.perf_counter() - tic, 1)
            row[f"{pooling}_load"] = f"{before:.2f}-{load():.2f}"
            row[f"{pooling}_r"] = round(
                model.score(X[test], y[test], groups=groups[test]), 3
            )
            row[f"{pooling}_epochs"] = f"{model.best_epoch_}/{model.n_epochs_}"
            row[f"{pooling}_warned"] = any(
                "learned nothing" in str(w.message) for w in caught
            )
            if pooling == "attention":
                peaks = [
                    int(a.mean(axis=(0, 1)).argmax())
                    for a in model.layer_attention_.values()
                ]
                row["attention_peaks"] = peaks
                row["driving_layers"] = truth.driving_layers.tolist()
        for name, features in (
            ("ridge_layer_means", layer_means),
            ("ridge_all_layers", X),
        ):
            tic = time.perf_counter()
            ridge = DelayedRidge(delays=[0, 1, 2, 3]).fit(
                features[train], y[train], groups=groups[train]
            )
            row[f"{name}_r"] = round(
                ridge.score(features[test], y[test], groups=groups[test]), 3
            )
            row[f"{name}_fit_s"] = round(time.perf_counter() - tic, 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SAMPLES))
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=LAYOUTS)
    parser.add_argument("--quality", action="store_true", help="also the quality part")
    parser.add_argument("--no-epochs", action="store_true", help="skip the epochs part")
    parser.add_argument("--save", help="write the results as JSON")
    args = parser.parse_args()

    import torch

    if args.device == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    elif not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA GPU")
    results = {"machine": machine_info(), "torch_threads": torch.get_num_threads()}
    print(json.dumps(results["machine"]), flush=True)
    if not args.no_epochs:
        results["epochs"] = epochs(args.device, args.sizes, args.layouts)
    if args.quality:
        results["quality"] = quality(args.device, args.sizes)
    if args.save:
        Path(args.save).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
