"""
Per-target ensembles: the best model for each voxel
===================================================

Different targets are best predicted by different models: a linear ridge
model wins where the response is linear in the stimulus features (it has less
variance), a neural encoder where it is not. :class:`brainenc.TargetwiseEnsemble`
scores every member on runs it was not trained on, *target by target*, and
weighs the members per target: ``method="topk"`` averages the ``k`` best
members of each target (MedARC's per-parcel ensemble at Algonauts 2025),
``method="softmax"`` weighs them by a softmax of their held-out r (MIRAGE's).

This example needs the ``deep`` extra (``pip install brainenc[deep]``) for
its neural member.
"""

# %%
# Half the targets are linear functions of three delayed stimulus drives, the
# other half non-linear ones (squares and products of the drives).
import matplotlib.pyplot as plt
import numpy as np

from brainenc import DelayedRidge, TargetwiseEnsemble, make_encoding_data, pearson_r
from brainenc.neural import PCAMLPEncoder

X, _, groups, truth = make_encoding_data(
    n_samples=1500, n_features=10, n_targets=3, n_runs=6, snr=np.inf, random_state=0
)
z = truth.y_clean / truth.y_clean.std(axis=0)  # three linear drives
rng = np.random.default_rng(1)
linear = z @ rng.standard_normal((3, 20))
nonlinear = np.column_stack([z[:, 0] ** 2, z[:, 1] * z[:, 2], np.abs(z[:, 2])])
nonlinear = nonlinear @ rng.standard_normal((3, 20))
signal = np.hstack([linear, nonlinear])
signal = (signal - signal.mean(axis=0)) / signal.std(axis=0)
y = signal + 0.7 * rng.standard_normal(signal.shape)
is_linear = np.arange(40) < 20

# %%
# Two members: a delayed ridge and a small MLP on the same delays. By default
# (``cv=None``) the ensemble fits the members on all but the last training
# run (``selection_runs=1``) and scores them on that run; the sixth run is our
# test set.
train, test = groups < 5, groups == 5
members = [
    ("ridge", DelayedRidge(delays=4, backend="numpy")),
    (
        "mlp",
        PCAMLPEncoder(
            delays=4,
            n_components=10,
            hidden_units=(64, 64),
            activation="relu",
            dropout=0.0,
            loss="mse",
            lr=1e-2,
            batch_size=256,
            max_epochs=60,
            patience=5,
            random_state=0,
        ),
    ),
]
ensemble = TargetwiseEnsemble(members, method="topk", k=1, selection_runs=1)
ensemble.fit(X[train], y[train], groups=groups[train])
print("selection runs:", ensemble.selection_runs_)

# %%
# ``weights_`` holds the weight of every member for every target: with
# ``k=1`` each target takes the member that scored best on the selection run.
# The MLP wins every non-linear target; on the linear ones the two members
# are close and the ridge wins most.
for name, w in zip(ensemble.member_names_, ensemble.weights_, strict=True):
    print(
        f"{name:>5}: weight 1 on {w[is_linear].mean():.0%} of the linear "
        f"and {w[~is_linear].mean():.0%} of the non-linear targets"
    )

# %%
# On the test run the ensemble keeps the ridge's accuracy on the linear
# targets and the MLP's on the others.
scores = {
    name: pearson_r(y[test], est.predict(X[test], groups=groups[test]))
    for name, est in ensemble.named_estimators_.items()
}
scores["ensemble"] = pearson_r(y[test], ensemble.predict(X[test], groups=groups[test]))
for name, r in scores.items():
    print(
        f"{name:>8}: mean r {r.mean():.3f}  (linear {r[is_linear].mean():.3f}, "
        f"non-linear {r[~is_linear].mean():.3f})"
    )

fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(scores["ridge"][is_linear], scores["mlp"][is_linear], label="linear")
ax.scatter(scores["ridge"][~is_linear], scores["mlp"][~is_linear], label="non-linear")
ax.plot([-0.2, 1], [-0.2, 1], "k--", lw=1)
ax.set(xlabel="ridge held-out r", ylabel="MLP held-out r", title="Targets")
ax.legend(title="target kind")
fig.tight_layout()
plt.show()

# %%
# ``method="softmax"`` gives smooth weights instead; ``cv=5`` would score the
# members out of fold over all runs and refit them on all runs (more fits,
# more selection data). :func:`brainenc.targetwise_weights` applies the same
# rules to a table of scores you computed yourself.
from brainenc import targetwise_weights

soft = targetwise_weights(ensemble.selection_scores_, method="softmax")
print(
    "softmax weight of the MLP on a linear and a non-linear target:", soft[1, [0, -1]]
)
