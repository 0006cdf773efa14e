"""
A non-linear encoder: PCAMLPEncoder and cross-modal interactions
================================================================

A ridge model is linear in the (delayed) stimulus features. When a response
depends on a non-linear function of the stimulus, or on an *interaction*
between two modalities (a target that responds when audio and video change
together), a neural encoder can do better. :class:`brainenc.neural.PCAMLPEncoder`
is a multilayer perceptron on the same run-aware delayed features as
:class:`brainenc.DelayedRidge`, predicting the principal components of the
responses, with early stopping on held-out runs.

Its ``interaction`` parameter isolates what the non-linearity buys:
``"full"`` is one network over all feature spaces (it can model interactions),
``"late"`` one network per space with their outputs summed (non-linear within
a space, additive across spaces).

The neural encoders need the ``deep`` extra (``pip install brainenc[deep]``).
Their defaults were chosen on a grid of synthetic problems of 1 000 to 30 000
samples (see "Choosing a model" in the user guide): here they train in seconds
on a laptop CPU.
"""

# %%
# Two feature spaces, ``audio`` and ``video``, each with its own linear drive
# (``a`` and ``b``, through a delayed haemodynamic response). Three kinds of
# targets, ten of each: additive and linear (``a + b``), additive but
# non-linear (``|a| + |b|``), and an interaction (``a * b``).
import matplotlib.pyplot as plt
import numpy as np

from brainenc import DelayedRidge, make_multispace_data, pearson_r
from brainenc.neural import PCAMLPEncoder

X, _, groups, truth = make_multispace_data(
    n_samples=1200,
    space_sizes=(6, 6),
    n_targets=2,
    shares=np.eye(2),  # target 0 driven by space0 only, target 1 by space1
    n_runs=5,
    snr=np.inf,
    random_state=0,
)
a = truth.y_clean_spaces[0][:, 0]  # unit-variance drive of the audio space
b = truth.y_clean_spaces[1][:, 1]  # and of the video space
feature_spaces = {"audio": slice(0, 6), "video": slice(6, 12)}

rng = np.random.default_rng(0)
kinds = {"a + b": a + b, "|a| + |b|": np.abs(a) + np.abs(b), "a * b": a * b}
signal = np.hstack([d[:, None] * rng.uniform(0.5, 1.5, 10) for d in kinds.values()])
signal = (signal - signal.mean(axis=0)) / signal.std(axis=0)
y = signal + 0.7 * rng.standard_normal(signal.shape)
kind_of_target = np.repeat(list(kinds), 10)

# %%
# Fit a ridge and both kinds of MLP on four runs; the MLPs hold out their
# last training run for early stopping (``validation_runs``), and the fifth
# run is the test set. Apart from the number of principal components, the
# MLPs keep their defaults.
train, test = groups < 4, groups == 4
models = {
    "ridge": DelayedRidge(delays=4, backend="numpy"),
    "MLP, late": PCAMLPEncoder(
        n_components=8,
        interaction="late",
        feature_spaces=feature_spaces,
        random_state=0,
    ),
    "MLP, full": PCAMLPEncoder(n_components=8, interaction="full", random_state=0),
}
scores = {}
for name, model in models.items():
    model.fit(X[train], y[train], groups=groups[train])
    scores[name] = pearson_r(y[test], model.predict(X[test], groups=groups[test]))
    by_kind = ", ".join(
        f"{kind}: {scores[name][kind_of_target == kind].mean():.2f}" for kind in kinds
    )
    print(f"{name:>9}  held-out r  {by_kind}")

# %%
# Only the full MLP predicts the interaction targets; the late MLP handles the
# additive non-linearity but not the interaction; the ridge model only the
# linear targets. The dashed line is the noise ceiling.
ceiling = pearson_r(y[test], signal[test])
fig, ax = plt.subplots(figsize=(7, 3.5))
width = 0.25
for k, (name, r) in enumerate(scores.items()):
    means = [r[kind_of_target == kind].mean() for kind in kinds]
    ax.bar(np.arange(3) + (k - 1) * width, means, width, label=name)
ax.axhline(ceiling.mean(), color="k", ls="--", lw=1, label="noise ceiling")
ax.set_xticks(np.arange(3), [f"targets {kind}" for kind in kinds])
ax.set(ylabel="held-out mean r", ylim=(-0.1, 1))
ax.legend(fontsize="small", ncols=2)
fig.tight_layout()

# %%
# Training curves: ``history_`` holds, per epoch, the optimizer steps taken
# so far, the training loss and the validation r that early stopping watched;
# ``best_epoch_`` is the epoch whose weights were kept. With 720 training
# samples an epoch is 6 optimizer steps: early stopping waits for
# ``min_steps=1000`` steps before it may stop, long enough to leave the
# initial plateau.
fig, ax = plt.subplots(figsize=(5, 3))
for name in ["MLP, late", "MLP, full"]:
    model = models[name]
    steps = [h["n_steps"] for h in model.history_]
    line = ax.plot(steps, [h["valid_r"] for h in model.history_], label=name)[0]
    ax.axvline(
        model.history_[model.best_epoch_ - 1]["n_steps"], color=line.get_color(), ls=":"
    )
ax.set(xlabel="optimizer steps", ylabel="validation mean r")
ax.legend()
fig.tight_layout()
plt.show()
