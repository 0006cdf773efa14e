"""The scikit-learn estimator shared by the neural encoders (skorch inside).

``_NeuralEncoder`` is a private base class: a plain scikit-learn regressor that
builds a :class:`skorch.NeuralNet` inside :meth:`fit`, trains it, and keeps
only the trained torch module, on the CPU. It does not subclass skorch's
``NeuralNetRegressor`` (which fails most of scikit-learn's estimator checks).
This package (``brainenc.neural``) is imported lazily, so torch and skorch are
imported at the top of its modules; ``brainenc.neural.__init__`` turns a
missing torch/skorch into an ImportError that says ``pip install
brainenc[deep]``.

What the base does in ``fit(X, y, groups=None)``
-------------------------------------------------
1. Validates the parameters (``_parameter_constraints``, extended by the
   subclass with ``{**_NeuralEncoder._parameter_constraints, ...}``), then
   ``X`` (float32, finite, 2-D) and ``y`` (float32, 1-D or 2-D; NaN allowed
   only when the subclass sets the class attribute ``_allow_nan_y = True``),
   then ``groups`` (:func:`brainenc._validation.check_groups`) and
   ``feature_spaces`` (``feature_spaces_``: ``{name: sorted column indices}``,
   one space ``{"all": all columns}`` when ``feature_spaces=None``).
2. Splits off the validation runs (``validation_runs``, see
   :meth:`_NeuralEncoder._split_validation`): with several runs, the LAST
   ``k`` runs in order of appearance (deterministic, independent of
   ``random_state``); with one run (or ``groups=None``), the last contiguous
   block of samples, which is then treated as a run of its own (delays and
   windows do not cross into it). Validation rows are never used for a
   gradient step nor to fit any preprocessing.
3. Standardises ``X`` column-wise with the mean and standard deviation of the
   TRAINING rows (``x_mean_``, ``x_scale_``; a constant column gets scale 1).
   Every hook below receives this standardised ``X``, never the raw one;
   :meth:`predict` standardises the same way before calling the hooks.
4. Calls the subclass hooks, in this order, inside
   ``torch.random.fork_rng`` with ``torch.manual_seed(seed)`` (``seed`` drawn
   from ``random_state``), so the user's global torch RNG state (and NumPy's)
   is unchanged after fit:

   - ``self._fit_preprocessing(X_train, Y_train, groups_train)``: fit any
     target/feature transform on the TRAINING rows only and store it as
     NumPy fitted attributes (e.g. target PCA). Returns None. ``Y_train`` is
     always 2-D ``(n_train, n_targets)`` float32 (may hold NaN only with
     ``_allow_nan_y``). Default: nothing.
   - ``self._make_dataset(X, Y, groups, *, training, generator)``: return a
     ``torch.utils.data.Dataset`` whose items are ``(x, y)`` pairs of tensors
     (what the criterion compares with the module output). Called once with
     the training rows (``training=True``) and once with the validation rows
     (``training=False``; its loss is skorch's ``valid_loss``). ``generator``
     is a seeded CPU ``torch.Generator`` for any randomness of the dataset
     itself (e.g. random windows); use it, never the global RNG. Required.
   - ``self._build_module()``: return a freshly initialised
     ``torch.nn.Module`` (on the CPU; the base moves it). It may read the
     fitted attributes set so far (``n_features_in_``, ``feature_spaces_``,
     whatever ``_fit_preprocessing`` stored). Required.
   - ``self._make_criterion()``: return the loss as a ``torch.nn.Module``
     instance, called as ``criterion(module_output, y_batch)``. Required.
   - ``self._train_iterator_kwargs(n_train_items)``: keyword arguments of the
     training ``DataLoader`` on top of ``batch_size`` and the seeded
     ``generator``. Default: ``{"shuffle": True}`` plus ``drop_last=True``
     when the last batch would hold a single item (batch norm cannot train on
     one sample).

   The base then trains with skorch: AdamW (``lr``, ``weight_decay``),
   ``batch_size``, ``max_epochs``, validation by
   ``skorch.helper.predefined_split`` on the validation dataset (never
   skorch's random split), an ``EpochScoring`` callback ``valid_r`` = mean
   Pearson r of :meth:`_predict_standardized` on the validation rows against
   their raw ``y`` (so exactly what :meth:`predict` would score; NaN targets
   omitted), and ``EarlyStopping(monitor="valid_r", lower_is_better=False,
   patience, load_best=True)`` (skorch deep-copies the best ``state_dict``, so
   the restored weights are a real copy). ``patience=None`` trains all
   ``max_epochs`` and still restores the best epoch; ``validation_runs=0``
   trains all ``max_epochs`` without validation and keeps the last weights.
   With ``mixed_precision=True`` on CUDA, the module runs under
   ``torch.autocast("cuda", dtype=torch.bfloat16)`` (outputs cast back to
   float32); elsewhere the flag is ignored.
5. Stores ``module_`` (the trained module, moved to the CPU, in eval mode),
   ``history_`` (one dict per epoch: ``epoch``, ``train_loss``, and with
   validation ``valid_loss``, ``valid_r``; ``dur`` in seconds),
   ``best_epoch_`` (1-based epoch whose weights were kept), ``n_epochs_``,
   ``validation_mask_`` (bool, rows of ``X`` used for validation),
   ``validation_groups_`` (labels of the held-out runs; empty without
   validation), ``device_`` (the device that trained), ``x_mean_``,
   ``x_scale_``, ``feature_spaces_``, ``n_features_in_``, ``n_targets_``.

Prediction
----------
``predict(X, groups=None)`` validates and standardises ``X``, then calls the
hook ``self._predict_standardized(module, X, groups, device)`` (required),
which must return a NumPy float32 array ``(n_samples, n_targets)`` in the
units of the original ``y`` (undo any target transform there). The base calls
it with the module already on ``device`` and in eval mode, under
``torch.inference_mode()`` (and autocast when mixed precision applies), casts
the result to the float precision of ``X`` (float64 for non-float input; the
network itself computes in float32) and squeezes it to 1-D when ``y`` was
1-D. ``groups`` there is the validated label array (zeros when None). The
hook is also what computes ``valid_r`` during training. The device at
predict time is CUDA when ``device`` is ``"auto"`` or ``"cuda"`` and a GPU is
visible, else the CPU: a model trained on a GPU predicts on a CPU-only
machine. ``score`` is the mean Pearson r (NaN targets omitted when
``_allow_nan_y``).

Helpers for subclasses: ``_as_tensor(array)`` (float32 CPU tensor without a
copy when possible) and ``_predict_in_batches(module, X_tensor, device)``
(eval forward pass in chunks of at least 1024 rows, returns a float32 NumPy
array).
"""

import copy
import math
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._compat import Integral, Interval, Real, StrOptions, _fit_context
from .._validation import (
    check_feature_spaces,
    check_groups,
    run_slices,
    validate_X,
    validate_X_y,
)
from ..metrics import _CorrelationScoreMixin, correlation_score


class _NeuralEncoder(
    _CorrelationScoreMixin, RegressorMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base of the neural encoders: a skorch net built and trained in fit.

    Not public: see the module docstring for what the base does and the hooks
    a subclass implements.
    """

    _parameter_constraints = {
        "feature_spaces": [dict, None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "validation_runs": [
            Interval(Integral, 0, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
        ],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "mixed_precision": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: Subclasses that mask missing targets (multi-subject data) set True.
    _allow_nan_y = False

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Train the network, with early stopping on held-out runs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features, time along axis 0.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Responses.
        groups : array-like of shape (n_samples,), default=None
            Run labels (contiguous runs). The validation set for early
            stopping is made of whole runs (see ``validation_runs``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        device = _resolve_device(self.device)
        X, Y, one_d = self._validate_fit_data(X, y)
        groups = check_groups(groups, X.shape[0])
        self.n_targets_ = Y.shape[1]
        self._y_one_d_ = one_d
        if self.feature_spaces is None:
            self.feature_spaces_ = {"all": np.arange(X.shape[1])}
        else:
            self.feature_spaces_ = check_feature_spaces(self.feature_spaces, X.shape[1])

        train, fit_groups, valid_labels = self._split_validation(groups)
        self.validation_mask_ = ~train
        self.validation_groups_ = valid_labels
        has_valid = not np.all(train)

        self.x_mean_ = X[train].mean(axis=0, dtype=np.float64).astype(np.float32)
        scale = X[train].std(axis=0, dtype=np.float64)
        scale[scale < 1e-12 * np.maximum(1.0, np.abs(self.x_mean_))] = 1.0
        self.x_scale_ = scale.astype(np.float32)
        Xs = self._standardize(X)
        del X

        seed = _draw_seed(self.random_state)
        devices = [torch.device(device).index or 0] if device == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            self._train(Xs, Y, fit_groups, train, has_valid, device, seed)
        self.device_ = device
        return self

    def _train(self, Xs, Y, fit_groups, train, has_valid, device, seed):
        from skorch import NeuralNet
        from skorch.callbacks import EarlyStopping, EpochScoring
        from skorch.helper import predefined_split

        X_train, Y_train, g_train = Xs[train], Y[train], fit_groups[train]
        self._fit_preprocessing(X_train, Y_train, g_train)
        train_ds = self._make_dataset(
            X_train,
            Y_train,
            g_train,
            training=True,
            generator=torch.Generator().manual_seed(seed + 1),
        )
        del X_train, Y_train
        module = self._build_module()
        use_amp = bool(self.mixed_precision) and device == "cuda"
        net_module = _Autocast(module) if use_amp else module
        net_module.to(device)

        callbacks = []
        train_split = None
        if has_valid:
            valid = ~train
            X_valid, Y_valid, g_valid = Xs[valid], Y[valid], fit_groups[valid]
            valid_ds = self._make_dataset(
                X_valid,
                Y_valid,
                g_valid,
                training=False,
                generator=torch.Generator().manual_seed(seed + 2),
            )
            train_split = predefined_split(valid_ds)
            scorer = _ValidationR(self, module, X_valid, Y_valid, g_valid, device)
            patience = self.patience
            if patience is None:
                patience = self.max_epochs + 1
            callbacks = [
                (
                    "valid_r",
                    EpochScoring(
                        scorer,
                        lower_is_better=False,
                        on_train=False,
                        name="valid_r",
                        use_caching=False,
                    ),
                ),
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_r",
                        lower_is_better=False,
                        patience=patience,
                        threshold=0.0,
                        threshold_mode="abs",
                        load_best=True,
                    ),
                ),
            ]

        iterator_kwargs = {"generator": torch.Generator().manual_seed(seed + 3)}
        iterator_kwargs.update(self._train_iterator_kwargs(len(train_ds)))
        net = NeuralNet(
            module=net_module,
            criterion=self._make_criterion(),
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=int(bool(self.verbose)),
            **{f"iterator_train__{k}": v for k, v in iterator_kwargs.items()},
        )
        with warnings.catch_warnings():
            # skorch warns when handed an initialised module; that is intended.
            warnings.filterwarnings("ignore", module="skorch")
            net.fit(train_ds, None)

        self.history_ = [_epoch_record(row) for row in net.history]
        self.n_epochs_ = len(self.history_)
        if has_valid:
            stopper = dict(net.callbacks_)["early_stopping"]
            best = stopper.best_epoch_
            self.best_epoch_ = int(best) if best is not None else self.n_epochs_
        else:
            self.best_epoch_ = self.n_epochs_
        module.to("cpu")
        module.eval()
        self.module_ = module

    def _validate_fit_data(self, X, y):
        X, y = validate_X_y(self, X, y, dtype=np.float32, allow_nan_y=self._allow_nan_y)
        one_d = y.ndim == 1
        Y = y[:, None] if one_d else y
        return X, Y, one_d

    def _split_validation(self, groups):
        """Choose the validation rows: whole runs, or the last block.

        Returns
        -------
        train : ndarray of bool
            Rows used for training.
        fit_groups : ndarray
            Run labels used inside fit (with one run, the validation block is
            relabelled as a run of its own).
        valid_labels : ndarray
            Labels of the held-out runs (empty without validation).
        """
        n_samples = groups.shape[0]
        name = type(self).__name__
        value = self.validation_runs
        slices = run_slices(groups)
        n_runs = len(slices)
        train = np.ones(n_samples, dtype=bool)
        if value == 0:
            if n_samples < 2:
                raise ValueError(
                    f"{name} needs at least 2 samples, got {n_samples} sample."
                )
            return train, groups, groups[:0]
        if n_runs >= 2:
            if isinstance(value, Integral):
                if value >= n_runs:
                    raise ValueError(
                        f"validation_runs={value} must leave at least one "
                        f"training run, but groups holds {n_runs} runs."
                    )
                n_valid = int(value)
            else:
                n_valid = min(max(1, round(value * n_runs)), n_runs - 1)
            start = slices[n_runs - n_valid].start
            train[start:] = False
            labels = groups[[s.start for s in slices[n_runs - n_valid :]]]
            if n_samples - start < 2 or start < 2:
                raise ValueError(
                    f"{name} needs at least 2 training and 2 validation samples; "
                    f"validation_runs={value!r} holds out {n_samples - start} "
                    f"of {n_samples} samples."
                )
            return train, groups, labels
        if isinstance(value, Integral):
            raise ValueError(
                f"validation_runs={value} (a number of runs) needs groups with "
                f"more than {value} runs, got a single run; pass groups, or a "
                f"float fraction such as validation_runs=0.2 to hold out the "
                f"last block of samples."
            )
        n_valid = max(2, math.ceil(value * n_samples))
        if n_samples - n_valid < 2:
            raise ValueError(
                f"{name} needs at least 4 samples to hold out a validation "
                f"block (validation_runs={value!r}), got {n_samples} "
                f"sample{'s' if n_samples != 1 else ''}. Pass validation_runs=0 "
                f"to train without validation."
            )
        train[n_samples - n_valid :] = False
        fit_groups = np.where(train, 0, 1).astype(np.intp)
        return train, fit_groups, np.asarray([groups[-1]])

    def _standardize(self, X):
        return (X - self.x_mean_) / self.x_scale_

    # -------------------------------------------------------------- predict
    def predict(self, X, groups=None):
        """Predict responses from features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X`` (delays and windows never cross a run).

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_targets) or (n_samples,)
            Predicted responses, computed in float32 and returned in the
            float precision of ``X`` (float64 for non-float input); 1-D when
            ``y`` was 1-D in fit.
        """
        check_is_fitted(self, "module_")
        X = validate_X(self, X, reset=False)
        out_dtype = X.dtype
        X = X.astype(np.float32, copy=False)
        groups = check_groups(groups, X.shape[0])
        device = _predict_device(self.device)
        module = self.module_
        if device != "cpu":
            module = copy.deepcopy(module).to(device)
        Y = self._run_prediction(module, self._standardize(X), groups, device)
        Y = Y.astype(out_dtype, copy=False)
        return Y[:, 0] if self._y_one_d_ else Y

    def _run_prediction(self, module, Xs, groups, device):
        was_training = module.training
        module.eval()
        use_amp = bool(self.mixed_precision) and device == "cuda"
        try:
            with torch.inference_mode():
                if use_amp:
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        Y = self._predict_standardized(module, Xs, groups, device)
                else:
                    Y = self._predict_standardized(module, Xs, groups, device)
        finally:
            module.train(was_training)
        return np.asarray(Y, dtype=np.float32)

    def _score_nan_policy(self):
        return "omit" if self._allow_nan_y else "raise"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def __getstate__(self):
        state = super().__getstate__()
        module = state.get("module_")
        if module is not None and any(
            p.device.type != "cpu" for p in module.parameters()
        ):
            state["module_"] = copy.deepcopy(module).to("cpu")
        return state

    # --------------------------------------------------- default sub-hooks
    def _fit_preprocessing(self, X, Y, groups):
        """Fit transforms on the training rows (default: nothing)."""

    def _train_iterator_kwargs(self, n_items):
        kwargs = {"shuffle": True}
        if n_items > 1 and n_items % self.batch_size == 1:
            kwargs["drop_last"] = True
        return kwargs

    # The four hooks every subclass defines (see the module docstring).
    @abstractmethod
    def _make_dataset(self, X, Y, groups, *, training, generator):
        """The training or validation dataset of (x, y) tensor pairs."""

    @abstractmethod
    def _build_module(self):
        """A freshly initialised torch module, on the CPU."""

    @abstractmethod
    def _make_criterion(self):
        """The loss, called as ``criterion(module_output, y_batch)``."""

    @abstractmethod
    def _predict_standardized(self, module, X, groups, device):
        """Predictions (NumPy) of ``module`` on standardised ``X``."""

    # ------------------------------------------------------------- helpers
    def _predict_in_batches(self, module, X, device):
        """Forward ``X`` (tensor on the CPU) in chunks; float32 NumPy output."""
        outputs = []
        for start in range(0, X.shape[0], max(self.batch_size, 1024)):
            batch = X[start : start + max(self.batch_size, 1024)].to(device)
            outputs.append(module(batch).float().cpu())
        return torch.cat(outputs).numpy()


def _as_tensor(array):
    """Float32 CPU tensor sharing memory with ``array`` when possible."""
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


class _Autocast(torch.nn.Module):
    """Run a module under bfloat16 autocast on CUDA; float32 outputs."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args, **kwargs):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = self.inner(*args, **kwargs)
        return out.float()


class _ValidationR:
    """Mean Pearson r of the estimator's predictions on the validation rows."""

    def __init__(self, estimator, module, X, Y, groups, device):
        self.estimator = estimator
        self.module = module
        self.X = X
        self.Y = Y
        self.groups = groups
        self.device = device

    def __call__(self, net, X=None, y=None):
        pred = self.estimator._run_prediction(
            self.module, self.X, self.groups, self.device
        )
        if not np.all(np.isfinite(pred)):
            return float("nan")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return correlation_score(self.Y, pred, nan_policy="omit")


def _epoch_record(row):
    keys = ("epoch", "train_loss", "valid_loss", "valid_r", "dur")
    return {
        k: (int(row[k]) if k == "epoch" else float(row[k])) for k in keys if k in row
    }


def _resolve_device(device):
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                "device='cuda' asks for a CUDA GPU, but torch sees none "
                "(torch.cuda.is_available() is False). Use device='auto' to fall "
                "back to the CPU, or device='cpu'."
            )
        return "cuda"
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cpu"


def _predict_device(device):
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def _draw_seed(random_state):
    """An int seed from ``random_state``, never drawing from a global RNG."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max))
