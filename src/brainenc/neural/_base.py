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

   The base then trains with skorch (see "Training" below) and stores
   ``module_`` (the trained module, moved to the CPU, in eval mode),
   ``history_`` (one dict per epoch: ``epoch``, ``n_steps`` (optimizer steps
   so far), ``lr`` (learning rate of the epoch's last step),
   ``train_loss``, and with validation ``valid_loss``, ``valid_r``; ``dur``
   in seconds), ``best_epoch_`` (1-based epoch whose weights were kept),
   ``n_epochs_``, ``n_steps_``, ``validation_mask_`` (bool, rows of ``X``
   used for validation), ``validation_groups_`` (labels of the held-out runs;
   empty without validation), ``device_`` (the device that trained),
   ``x_mean_``, ``x_scale_``, ``feature_spaces_``, ``n_features_in_``,
   ``n_targets_``.

Training
--------
- **Optimizer**: AdamW (``lr``, ``weight_decay``) with two parameter groups:
  the parameters named by :meth:`_NeuralEncoder._no_weight_decay` (biases,
  every parameter of at most one dimension, normalisation layers,
  embeddings, and whatever the module lists in a ``no_weight_decay()``
  method, e.g. learned queries or positional embeddings) get no weight decay.
  ``max_grad_norm`` clips the global L2 norm of the gradients before every
  step (skorch's ``GradientNormClipping``); ``None`` does not clip.
- **Learning rate per optimizer step** (:class:`LRSchedule`): a linear
  warm-up over the first ``warmup`` fraction of the steps of ``max_epochs``
  epochs, then ``lr_schedule="onecycle"``: a half cosine from ``lr`` down to
  0 at the end of ``max_epochs`` epochs; ``"constant"``: ``lr``.
- **Validation** by ``skorch.helper.predefined_split`` on the validation
  dataset (never skorch's random split). ``valid_r``, an ``EpochScoring``
  callback, is :meth:`_NeuralEncoder._validation_score` of
  :meth:`_predict_standardized` on the validation rows against their raw
  ``y`` (so exactly what :meth:`predict` would score): the mean Pearson r
  per subject (``n_subjects_`` column blocks when the subclass sets it, NaN
  samples left out), then averaged over subjects.
- **Early stopping**: after every epoch, the weights of the best
  ``valid_r`` so far are deep-copied; training stops when ``patience`` is
  exhausted, but never before ``min_steps`` optimizer steps (nor after
  ``max_epochs`` epochs): an int ``patience`` is a number of epochs without
  improvement, a float in (0, 1) a fraction of the steps taken so far (no
  improvement in the last ``patience * n_steps`` steps, which means the same
  at any data size), ``None`` trains all ``max_epochs``. Training also stops
  when the training loss is not finite. The best weights are then loaded
  back. ``validation_runs=0`` trains all ``max_epochs`` without validation
  and keeps the last weights.
- **A model that learned nothing says so**: with validation, a
  :class:`~sklearn.exceptions.ConvergenceWarning` names the knobs to turn
  when the best ``valid_r`` is not finite, or is within chance of the better
  of predicting the training mean (r = 0) and the untrained network (its
  ``valid_r`` before the first step). Chance is 3 times the root mean square
  of the score of the kept weights' predictions against the validation
  responses circularly shifted in time (a null that keeps the
  autocorrelation of both and their correlations across targets). The
  untrained network, not the first epoch, is the reference: an epoch can be
  hundreds of steps and rightly the best.
- **Progress**: ``verbose=1`` shows a progress bar over epochs
  (:func:`brainenc._progress.progress_bar`) with the validation r and the
  best one so far; ``verbose>=2`` prints skorch's table of epochs instead.
- **Mixed precision**: with ``mixed_precision=True`` on CUDA, the module
  runs under ``torch.autocast("cuda", dtype=torch.bfloat16)`` (outputs cast
  back to float32; bfloat16 needs no loss scaling); elsewhere the flag is
  ignored.

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
hook is also what computes ``valid_r`` during training. A subclass that
offers a variant of prediction (e.g. with some feature spaces ablated) calls
``self._predict(X, groups, **options)``: the same validation, device and
casting as :meth:`predict`, with ``options`` passed on as keyword arguments
to ``_predict_standardized``. The device at
predict time is CUDA when ``device`` is ``"auto"`` or ``"cuda"`` and a GPU is
visible, else the CPU: a model trained on a GPU predicts on a CPU-only
machine. ``score`` is the mean Pearson r (NaN targets omitted when
``_allow_nan_y``).

Helpers for subclasses: ``_as_tensor(array)`` (float32 CPU tensor without a
copy when possible), ``_predict_in_batches(module, X_tensor, device)``
(eval forward pass in chunks of at least 1024 rows, returns a float32 NumPy
array), :func:`column_mean_scale` (the guarded, optionally NaN-aware
standardisation used for ``X`` here and for ``y`` by the subclasses), and the
class decorator :func:`fill_training_docs` (writes the shared training
parameters and attributes into a subclass's docstring). Two more hooks have
defaults a subclass may extend: ``_no_weight_decay(module)`` (the parameter
names trained without weight decay) and ``_validation_score(Y, pred)``
(``valid_r``).
"""

import copy
import glob
import inspect
import math
import re
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback
from torch import nn

from .._compat import Integral, Interval, Real, StrOptions, _fit_context
from .._progress import progress_bar
from .._validation import (
    check_feature_spaces,
    check_groups,
    run_slices,
    user_stacklevel,
    validate_X,
    validate_X_y,
)
from ..metrics import _CorrelationScoreMixin, pearson_r


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
        "lr_schedule": [StrOptions({"onecycle", "constant"})],
        "warmup": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "min_steps": [Interval(Integral, 0, None, closed="left")],
        "patience": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            None,
        ],
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

        # the training rows lead (the validation runs are the last ones):
        # views, not copies, of X and Y
        train = slice(0, int(np.count_nonzero(train)))
        self.x_mean_, self.x_scale_ = column_mean_scale(X[train])
        Xs = self._standardize(X)
        del X

        seed = _draw_seed(self.random_state)
        devices = [torch.device(device).index or 0] if device == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            self._train(Xs, Y, fit_groups, train, has_valid, device, seed)
        self.device_ = device
        self._after_training(Xs[train.stop :] if has_valid else Xs)
        return self

    def _after_training(self, Xs_valid):
        """Hook: fitted attributes computed from the trained network on the
        standardised validation rows (all rows without validation)."""

    def _train(self, Xs, Y, fit_groups, train, has_valid, device, seed):
        from skorch import NeuralNet
        from skorch.callbacks import EpochScoring, GradientNormClipping
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
        no_decay = self._no_weight_decay(module)
        if use_amp:
            no_decay = {f"inner.{name}" for name in no_decay}

        iterator_kwargs = {"generator": torch.Generator().manual_seed(seed + 3)}
        iterator_kwargs.update(self._train_iterator_kwargs(len(train_ds)))
        steps_per_epoch = _n_batches(
            len(train_ds), self.batch_size, iterator_kwargs.get("drop_last", False)
        )
        schedule = LRSchedule(
            self.lr_schedule,
            total_steps=self.max_epochs * steps_per_epoch,
            warmup=self.warmup,
        )

        callbacks = []
        train_split = None
        scorer = None
        if has_valid:
            valid = slice(train.stop, None)
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
            callbacks.append(
                (
                    "valid_r",
                    EpochScoring(
                        scorer,
                        lower_is_better=False,
                        on_train=False,
                        name="valid_r",
                        use_caching=False,
                    ),
                )
            )
        if self.max_grad_norm is not None:
            callbacks.append(
                ("clip", GradientNormClipping(gradient_clip_value=self.max_grad_norm))
            )
        bar = progress_bar(
            f"{type(self).__name__} epochs",
            self.max_epochs,
            verbose=self.verbose == 1,
            unit="epoch",
        )
        control = _TrainingControl(
            schedule,
            min_steps=self.min_steps,
            patience=self.patience if has_valid else None,
            bar=bar,
            scorer=scorer,
        )
        callbacks.append(("training", control))

        net = NeuralNet(
            module=net_module,
            criterion=self._make_criterion(),
            optimizer=_adamw,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            optimizer__param_groups=[
                (glob.escape(name), {"weight_decay": 0.0}) for name in sorted(no_decay)
            ],
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            verbose=int(self.verbose >= 2),
            **{f"iterator_train__{k}": v for k, v in iterator_kwargs.items()},
        )
        with bar, warnings.catch_warnings():
            # skorch warns when handed an initialised module; that is intended.
            warnings.filterwarnings("ignore", module="skorch")
            net.fit(train_ds, None)

        self.history_ = [_epoch_record(row) for row in net.history]
        self.n_epochs_ = len(self.history_)
        self.n_steps_ = control.n_steps
        # Without validation, or when it was never finite, the last weights.
        self.best_epoch_ = control.best_epoch or self.n_epochs_
        if has_valid:
            self._check_learning(control, scorer)
        module.to("cpu")
        module.eval()
        self.module_ = module

    def _check_learning(self, control, scorer):
        """Warn when the best validation r shows that nothing was learned.

        Nothing was learned when the best ``valid_r`` is not finite, or is
        within chance of the better of two references: predicting the
        training mean (r = 0) and the untrained network (its ``valid_r``
        before the first step). Chance is 3 times the root mean square of
        the score of the kept weights' predictions against the validation
        responses circularly shifted in time (8 shifts between a quarter and
        three quarters of the validation length), a null that keeps the
        autocorrelation of both and their correlations across targets.
        """
        best = control.best_r
        initial = control.initial_r
        if np.isfinite(best):
            chance = 3.0 * scorer.null_spread()
            if np.isfinite(initial) and initial > 0:
                reference = f"{initial:.3f}, the untrained network's score"
            else:
                initial, reference = 0.0, "0, the score of predicting the training mean"
            if best > initial + chance:
                return
            reason = (
                f"{best:.3f} (epoch {self.best_epoch_} of {self.n_epochs_}), is "
                f"within chance of {reference} (chance: {chance:.3f}, three times "
                f"the spread of r against time-shifted validation responses)"
            )
        else:
            reason = "was never finite: the training diverged"
        warnings.warn(
            f"{type(self).__name__} learned nothing: its best validation mean "
            f"r, {reason}. It took {self.n_steps_} optimizer steps in "
            f"{self.n_epochs_} epochs. Knobs to turn: lr (now {self.lr:g}; "
            f"larger to leave a plateau, smaller if train_loss grew), min_steps "
            f"(now {self.min_steps}), max_epochs (now {self.max_epochs}) and "
            f"patience (now {self.patience!r}) for more optimisation, or a "
            f"smaller network; history_ holds train_loss and valid_r per epoch. "
            f"Compare with brainenc.DelayedRidge on the same runs.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )

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
            Rows used for training: the first ones (the validation runs or
            block are the last rows).
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
        return self._predict(X, groups)

    def _predict(self, X, groups, **options):
        """:meth:`predict`, with ``options`` passed on to the prediction hook.

        A subclass offers variants of prediction (e.g. with feature spaces
        ablated) through the same validation and device handling by calling
        this with keyword arguments that its ``_predict_standardized``
        accepts.
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
        Y = self._run_prediction(
            module, self._standardize(X), groups, device, **options
        )
        Y = Y.astype(out_dtype, copy=False)
        return Y[:, 0] if self._y_one_d_ else Y

    def _run_prediction(self, module, Xs, groups, device, **options):
        was_training = module.training
        module.eval()
        use_amp = bool(self.mixed_precision) and device == "cuda"
        try:
            with torch.inference_mode():
                if use_amp:
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        Y = self._predict_standardized(
                            module, Xs, groups, device, **options
                        )
                else:
                    Y = self._predict_standardized(
                        module, Xs, groups, device, **options
                    )
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

    def _no_weight_decay(self, module):
        """Names of the parameters of ``module`` trained without weight decay.

        Biases, every parameter of at most one dimension, the parameters of
        normalisation layers and embeddings, and the names the module lists
        in a ``no_weight_decay()`` method (learned queries, positional
        embeddings: the timm convention). Subclasses may extend the set.
        """
        listed = (
            set(module.no_weight_decay())
            if hasattr(module, "no_weight_decay")
            else set()
        )
        names = set()
        for module_name, sub in module.named_modules():
            for param_name, param in sub.named_parameters(recurse=False):
                name = f"{module_name}.{param_name}" if module_name else param_name
                if (
                    name in listed
                    or param.ndim <= 1
                    or param_name.endswith("bias")
                    or isinstance(sub, _NO_DECAY_MODULES)
                ):
                    names.add(name)
        unknown = listed - {n for n, _ in module.named_parameters()}
        if unknown:
            raise ValueError(
                f"{type(module).__name__}.no_weight_decay() names parameters the "
                f"module does not have: {sorted(unknown)}."
            )
        return names

    def _validation_score(self, Y, pred):
        """Mean Pearson r on the validation rows, per subject then averaged.

        ``Y`` may hold NaN (missing samples, left out per target). A target
        with fewer than two observed samples is left out, and so is a subject
        with no such target; ``n_subjects_`` (1 when the subclass does not
        set it) splits the columns into subjects, side by side.
        """
        n_subjects = getattr(self, "n_subjects_", 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # constant predictions
            r = np.atleast_1d(pearson_r(Y, pred, nan_policy="omit"))
        counted = np.sum(~np.isnan(Y), axis=0) >= 2
        r = r.reshape(n_subjects, -1)
        counted = counted.reshape(n_subjects, -1)
        per_subject = [
            r[s][counted[s]].mean() for s in range(n_subjects) if counted[s].any()
        ]
        return float(np.mean(per_subject)) if per_subject else 0.0


_TRAINING_PARAMETERS = """\
lr : float, default={lr}
    Peak learning rate of AdamW, reached at the end of the warm-up.
lr_schedule : {{"onecycle", "constant"}}, default={lr_schedule}
    Learning rate of each optimizer step after the warm-up.
    ``"onecycle"``: decays from ``lr`` to 0 along a half cosine that ends
    after ``max_epochs`` epochs (warm-up then cosine decay); ``"constant"``:
    stays at ``lr``.
warmup : float, default={warmup}
    Fraction, in [0, 1), of the optimizer steps of ``max_epochs`` epochs
    over which the learning rate rises linearly to ``lr``.
weight_decay : float, default={weight_decay}
    AdamW (decoupled) weight decay, applied to weight matrices only: biases,
    normalisation layers, embeddings and every parameter of at most one
    dimension get none.
max_grad_norm : float or None, default={max_grad_norm}
    Clip the global L2 norm of the gradients to this value before each
    optimizer step; ``None`` does not clip.
min_steps : int, default={min_steps}
    Early stopping cannot end training before this many optimizer steps (one
    step per batch), so a small data set still gets enough optimisation to
    leave the initial plateau; training ends after ``max_epochs`` epochs in
    any case.
patience : int, float or None, default={patience}
    When early stopping ends training, once ``min_steps`` steps are done. A
    float ``p`` in (0, 1): when the validation mean r has not improved in
    the last fraction ``p`` of the steps taken (with ``p=0.3``, a best at
    step 700 stops training at step 1000), which means the same at any
    number of samples. An int: after that many epochs without improvement.
    ``None``: never (all ``max_epochs`` are trained). The best epoch's
    weights are restored in every case.
validation_runs : int or float, default={validation_runs}
    Held-out data for early stopping. With several runs in ``groups``: an
    int is a number of runs, a float in (0, 1) a fraction of the runs
    (rounded, at least 1, leaving at least one training run); the last
    runs are held out. With a single run (or ``groups=None``) a float is
    the fraction of samples in the final contiguous block held out. ``0``
    trains ``max_epochs`` without validation and keeps the last weights.
device : {{"auto", "cpu", "cuda"}}, default={device}
    Where to train. ``"auto"`` uses a CUDA GPU when torch sees one, else
    the CPU; ``"cuda"`` without a GPU is an error. Prediction uses the GPU
    when asked and present, else the CPU.
mixed_precision : bool, default={mixed_precision}
    Train and predict under bfloat16 autocast on CUDA (ignored on CPU).
"""

_VERBOSE_PARAMETER = """\
verbose : int, default={verbose}
    ``1``: a progress bar over epochs (on stderr) showing the validation
    mean r and the best so far; ``2`` or more: skorch's table of epochs
    (steps, learning rate, losses, validation r, duration) on stdout.
    Silent by default.
"""

_TRAINING_ATTRIBUTES = """\
history_ : list of dict
    One dict per epoch: ``epoch``, ``n_steps`` (optimizer steps so far),
    ``lr`` (learning rate of the epoch's last step), ``train_loss``,
    ``valid_loss`` and ``valid_r`` (mean Pearson r on the validation runs,
    per subject then averaged; with validation only) and ``dur`` (seconds).
best_epoch_ : int
    Epoch (from 1) whose weights were kept: the best ``valid_r``, or the
    last epoch without validation.
n_epochs_ : int
    Epochs trained.
n_steps_ : int
    Optimizer steps taken.
validation_mask_ : ndarray of bool of shape (n_samples,)
    Rows of the training ``X`` held out for validation.
validation_groups_ : ndarray
    Labels of the held-out runs.
device_ : str
    Device that trained the network.
"""


def fill_training_docs(cls):
    """Class decorator: write the shared training parameters into a docstring.

    Replaces the lines ``%(training_parameters)s``, ``%(verbose_parameter)s``
    and ``%(training_attributes)s`` of ``cls.__doc__`` by their text, at the
    indentation of the marker, with the defaults of ``cls.__init__``.
    """
    defaults = {
        name: _Default(param.default)
        for name, param in inspect.signature(cls.__init__).parameters.items()
    }
    doc = cls.__doc__
    for marker, text in (
        ("%(training_parameters)s", _TRAINING_PARAMETERS),
        ("%(verbose_parameter)s", _VERBOSE_PARAMETER),
        ("%(training_attributes)s", _TRAINING_ATTRIBUTES),
    ):
        match = re.search(rf"^( *){re.escape(marker)}\n", doc, flags=re.MULTILINE)
        indent = match.group(1)
        block = "".join(
            f"{indent}{line}\n" if line else "\n"
            for line in text.format(**defaults).splitlines()
        )
        doc = doc[: match.start()] + block + doc[match.end() :]
    cls.__doc__ = doc
    return cls


class _Default:
    """A default value as numpydoc writes it: strings in double quotes."""

    def __init__(self, value):
        self.value = value

    def __format__(self, spec):
        if isinstance(self.value, str):
            return f'"{self.value}"'
        return repr(self.value)


def check_subject_targets(Y, n_subjects, *, missing):
    """Targets per subject of side-by-side multi-subject ``Y`` (checked).

    ``missing`` says where the predictions of a target with no observed
    training value come from (in the warning).
    """
    n_columns = Y.shape[1]
    if n_columns % n_subjects:
        raise ValueError(
            f"y must have n_subjects * n_targets columns (the targets of "
            f"each subject side by side), but y has {n_columns} column"
            f"{'s' if n_columns != 1 else ''}, not a multiple of "
            f"n_subjects={n_subjects}."
        )
    observed = ~np.isnan(Y)
    if not observed.any():
        raise ValueError(
            f"y must hold observed (non-NaN) responses in the training runs, "
            f"but all {Y.size} training values of y are NaN."
        )
    n_missing = int(np.sum(~observed.any(axis=0)))
    if n_missing:
        warnings.warn(
            f"{n_missing} of {n_columns} targets of y have no observed "
            f"(non-NaN) value in the training runs; their predictions are "
            f"{missing}, in standardised units.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return n_columns // n_subjects


def column_mean_scale(A, *, allow_nan=False):
    """Column means and standard deviations for standardisation (float32).

    A column whose standard deviation is below ``1e-12 * max(1, |mean|)``
    (constant up to rounding) gets a scale of 1, so standardising it gives
    zeros rather than noise or a division by zero.

    Parameters
    ----------
    A : ndarray of shape (n_samples, n_columns)
        The training rows.
    allow_nan : bool, default=False
        Leave NaN out of the statistics (missing samples); a column with no
        observed value gets mean 0 and scale 1.

    Returns
    -------
    mean, scale : ndarray of float32 of shape (n_columns,)
        ``(A - mean) / scale`` is the standardised ``A``.
    """
    if allow_nan:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            mean = np.nanmean(A, axis=0, dtype=np.float64)
            scale = np.nanstd(A, axis=0, dtype=np.float64)
        mean[~np.isfinite(mean)] = 0.0
        scale[~np.isfinite(scale)] = 1.0
    else:
        mean = A.mean(axis=0, dtype=np.float64)
        scale = A.std(axis=0, dtype=np.float64)
    scale[scale < 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
    return mean.astype(np.float32), scale.astype(np.float32)


class LRSchedule:
    """Learning-rate factor of every optimizer step: warm-up, then a shape.

    Parameters
    ----------
    kind : {"onecycle", "constant"}
        After the warm-up, ``"onecycle"`` decays the factor from 1 to 0 along
        a half cosine over the remaining steps (warm-up then cosine: the
        one-cycle schedule); ``"constant"`` keeps it at 1.
    total_steps : int
        Steps of the whole schedule (``max_epochs`` times the steps of one
        epoch).
    warmup : float
        Fraction of ``total_steps`` over which the factor rises linearly
        from ``1 / n_warmup`` to 1 (no warm-up when it rounds to 0 steps).

    Examples
    --------
    >>> from brainenc.neural._base import LRSchedule
    >>> schedule = LRSchedule("onecycle", total_steps=10, warmup=0.2)
    >>> [round(schedule(step), 3) for step in range(10)]
    [0.5, 1.0, 1.0, 0.962, 0.854, 0.691, 0.5, 0.309, 0.146, 0.038]
    """

    def __init__(self, kind, *, total_steps, warmup):
        self.kind = kind
        self.total_steps = int(total_steps)
        self.warmup_steps = int(round(warmup * total_steps))

    def __call__(self, step):
        """Factor of the learning rate at step ``step`` (from 0)."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        progress = (step - self.warmup_steps) / max(
            1, self.total_steps - self.warmup_steps
        )
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


class _TrainingControl(Callback):
    """Learning-rate schedule, step count, early stopping and progress.

    Sets the learning rate of every parameter group before each optimizer
    step (its initial value times the schedule's factor), counts the steps,
    and at the end of every epoch records ``n_steps`` and ``lr`` in the
    history, keeps a deep copy of the best weights (highest ``valid_r``), and
    stops training (skorch's ``KeyboardInterrupt`` convention) when the
    training loss is not finite or the patience is exhausted once at least
    ``min_steps`` steps were taken. The best weights are loaded back at the
    end of training. With validation, the score of the untrained network is
    measured before the first step (``initial_r``).
    """

    def __init__(self, schedule, *, min_steps, patience, bar, scorer):
        self.schedule = schedule
        self.min_steps = min_steps
        self.patience = patience
        self.bar = bar
        self.scorer = scorer

    def on_train_begin(self, net, **kwargs):
        self.base_lrs = [group["lr"] for group in net.optimizer_.param_groups]
        self.n_steps = 0
        self.best_r = -np.inf
        self.best_epoch = None
        self.best_step = 0
        self.best_state = None
        # The score of the untrained network: what "learned nothing" means.
        self.initial_r = np.nan if self.scorer is None else self.scorer(net)

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            factor = self.schedule(self.n_steps)
            for group, base in zip(
                net.optimizer_.param_groups, self.base_lrs, strict=True
            ):
                group["lr"] = base * factor

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.n_steps += 1

    def on_epoch_end(self, net, **kwargs):
        history = net.history
        epoch = history[-1, "epoch"]
        history.record("n_steps", self.n_steps)
        history.record("lr", net.optimizer_.param_groups[0]["lr"])
        r = history[-1, "valid_r"] if "valid_r" in history[-1] else None
        if r is not None and np.isfinite(r) and r > self.best_r:
            self.best_r, self.best_epoch, self.best_step = r, epoch, self.n_steps
            self.best_state = copy.deepcopy(net.module_.state_dict())
        self.bar.update()
        if r is not None:
            best = (
                f"{self.best_r:.3f} (epoch {self.best_epoch})"
                if self.best_epoch
                else "-"
            )
            self.bar.set_postfix_str(f"valid_r={r:.3f}, best={best}")
        if not np.isfinite(history[-1, "train_loss"]):
            raise KeyboardInterrupt
        if self._patience_exhausted(epoch):
            raise KeyboardInterrupt

    def _patience_exhausted(self, epoch):
        if self.patience is None or self.n_steps < self.min_steps:
            return False
        if self.best_epoch is None:
            return False
        if isinstance(self.patience, Integral):
            return epoch - self.best_epoch >= self.patience
        return self.n_steps - self.best_step >= self.patience * self.n_steps

    def on_train_end(self, net, **kwargs):
        last = net.history[-1, "epoch"] if len(net.history) else None
        if self.best_state is not None and self.best_epoch != last:
            net.module_.load_state_dict(self.best_state)
        self.best_state = None


def _adamw(param_groups, **kwargs):
    """AdamW over skorch's parameter groups, merged by their options."""
    merged = {}
    for group in param_groups:
        options = tuple(sorted((k, v) for k, v in group.items() if k != "params"))
        merged.setdefault(options, []).extend(group["params"])
    return torch.optim.AdamW(
        [{"params": params, **dict(options)} for options, params in merged.items()],
        **kwargs,
    )


def _n_batches(n_items, batch_size, drop_last):
    return n_items // batch_size if drop_last else -(-n_items // batch_size)


_NO_DECAY_MODULES = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
    nn.Embedding,
    nn.EmbeddingBag,
)


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
    """Validation score of the estimator's predictions (``valid_r``)."""

    def __init__(self, estimator, module, X, Y, groups, device):
        self.estimator = estimator
        self.module = module
        self.X = X
        self.Y = Y
        self.groups = groups
        self.device = device

    def predict(self):
        return self.estimator._run_prediction(
            self.module, self.X, self.groups, self.device
        )

    def __call__(self, net, X=None, y=None):
        pred = self.predict()
        if not np.all(np.isfinite(pred)):
            return float("nan")
        return self.estimator._validation_score(self.Y, pred)

    def null_spread(self, n_shifts=8):
        """Root mean square of the score against time-shifted responses."""
        pred = self.predict()
        n = self.Y.shape[0]
        if not np.all(np.isfinite(pred)) or n < 4:
            return np.inf
        shifts = np.unique(np.linspace(n / 4, 3 * n / 4, n_shifts).round().astype(int))
        null = [
            self.estimator._validation_score(np.roll(self.Y, s, axis=0), pred)
            for s in shifts
        ]
        return float(np.sqrt(np.mean(np.square(null))))


def _epoch_record(row):
    keys = ("epoch", "n_steps", "lr", "train_loss", "valid_loss", "valid_r", "dur")
    return {
        k: (int(row[k]) if k in ("epoch", "n_steps") else float(row[k]))
        for k in keys
        if k in row
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
