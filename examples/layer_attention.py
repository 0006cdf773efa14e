"""
Which layers? Layer attention pooling with MultimodalTransformerEncoder
=======================================================================

Features from a frozen backbone come as a stack of layers, and which layer
predicts a brain region best is both a nuisance (a grid search over layers
per modality) and a finding. The MIRAGE and TRIBE encoders of Algonauts 2025
give the model every layer and let it pool them:
:class:`brainenc.neural.MultimodalTransformerEncoder` pools each modality's
layers at every time step (learned queries attending over the layer tokens,
``layer_pooling="attention"``), projects and concatenates the modalities,
and runs a transformer over time before a linear head per subject.

Here each of two modalities carries its signal in one known layer, through a
rectification and three samples of context. The attention profile finds the
layers; mean pooling over layers (and a ridge on layer means, the papers'
linear baseline) dilutes them. Training on the CPU takes seconds at this
size (the neural encoders need ``pip install brainenc[deep]``).
"""

# %%
# Two feature spaces of 8 layers x 8 columns; space0 is driven by layer 2,
# space1 by layer 6. A space's columns are its layers side by side
# (layer-major), so ``n_layers`` is all the model needs to know.
import matplotlib.pyplot as plt
import numpy as np

from brainenc import DelayedRidge, ablate_feature_spaces, make_layered_data
from brainenc.neural import MultimodalTransformerEncoder
from brainenc.plotting import plot_layer_attention

X, y, groups, truth = make_layered_data(
    n_samples=2000,
    n_runs=8,
    n_spaces=2,
    n_layers=8,
    layer_dim=8,
    n_targets=20,
    snr=2.0,
    layer_correlation=0.3,
    random_state=0,
)
print("driving layers:", truth.driving_layers.tolist())
print("noise ceiling (mean r):", round(float(truth.noise_ceiling.mean()), 3))
train, test = groups < 6, groups >= 6

# %%
# A small transformer (the defaults are a little larger; see the user guide
# for their epoch times), with attention pooling and with mean pooling, and
# DelayedRidge on the layer-mean features. The transformers hold out their
# last training run for early stopping.
params = {
    "hidden_dim": 32,
    "depth": 1,
    "heads": 2,
    "dropout": 0.1,
    "window_len": 32,
    "windows_per_epoch": 640,
    "max_epochs": 12,
    "lr": 3e-3,
    "min_steps": 0,
    "patience": None,
    "feature_spaces": truth.feature_spaces,
    "n_layers": truth.n_layers,
    "random_state": 0,
}
models = {
    pooling: MultimodalTransformerEncoder(layer_pooling=pooling, **params).fit(
        X[train], y[train], groups=groups[train]
    )
    for pooling in ("attention", "mean")
}
ridge = DelayedRidge(delays=[0, 1, 2, 3]).fit(
    truth.layer_means[train], y[train], groups=groups[train]
)
scores = {
    f"transformer, {pooling} pooling": model.score(
        X[test], y[test], groups=groups[test]
    )
    for pooling, model in models.items()
}
scores["ridge on layer means"] = ridge.score(
    truth.layer_means[test], y[test], groups=groups[test]
)
for name, r in scores.items():
    print(f"{name:>32}: held-out mean r {r:.3f}")

# %%
# The attention over layers, averaged over the validation run's time steps
# (``layer_attention_``): thin lines are the queries, the thick line their
# mean. It peaks at the driving layers (dashed).
model = models["attention"]
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
plot_layer_attention(model, ax=ax)
for s, layer in enumerate(truth.driving_layers):
    ax.axvline(layer, color=f"C{s}", linestyle="--", linewidth=1)
for space, attention in model.layer_attention_.items():
    profile = attention.mean(axis=(0, 1))
    print(f"{space}: attention peaks at layer {profile.argmax()} ({profile.max():.2f})")

# %%
# The profile is a function of the stimulus: ``layer_attention(X,
# per_sample=True)`` gives it at every time step of any data.
profile = model.layer_attention(X[test], per_sample=True)["space1"]
fig, ax = plt.subplots(figsize=(6.5, 3), layout="constrained")
image = ax.imshow(
    profile[:250].mean(axis=(1, 2)).T, aspect="auto", interpolation="nearest"
)
ax.set(xlabel="time (samples of a held-out run)", ylabel="layer of space1")
fig.colorbar(image, ax=ax, label="attention")

# %%
# Leave one modality out with the null the model was trained with (modality
# dropout replaces a dropped space by a learned null embedding), not with
# zeroed inputs it never saw: the per-target drop in r and the dominant
# modality, against each space's known share of the target's signal.
result = ablate_feature_spaces(
    model, X[test], y[test], model.feature_spaces_, groups=groups[test], replace="null"
)
expected = np.where(truth.shares[0] > 0.5, "space0", "space1")
agree = np.mean(result.dominant_space == expected)
print(f"dominant modality = the space with the larger share for {agree:.0%} of targets")
fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
ax.scatter(truth.shares[0], result.drop["space0"] - result.drop["space1"])
ax.axhline(0, color="0.6", linewidth=1)
ax.axvline(0.5, color="0.6", linewidth=1)
ax.set(
    xlabel="share of space0 in the target's signal",
    ylabel="drop(space0) - drop(space1)",
    title="leave-one-modality-out",
)
plt.show()
