"""PCAMLPEncoder: a non-linear encoder from delayed features to target PCs."""

import numbers

import numpy as np
import scipy.linalg
import torch
from torch import nn

from .._compat import Integral, Interval, Real, StrOptions
from .._validation import check_delays
from ..delays import _delay_features, _delayed_columns
from ._base import (
    _as_tensor,
    _NeuralEncoder,
    column_mean_scale,
    fill_training_docs,
)
from .modules import ACTIVATIONS, MLP, LateInteractionMLP

__all__ = ["PCAMLPEncoder"]


@fill_training_docs
class PCAMLPEncoder(_NeuralEncoder):
    """Multilayer perceptron from delayed features to the PCs of the responses.

    The features are standardised, expanded with run-aware delayed copies
    (:func:`brainenc.delay_features`), and fed to a multilayer perceptron
    (linear, activation, dropout, ...) whose outputs are the principal
    components of the responses; the inverse PCA maps them back to every
    target. Training minimises the mean squared error in component space
    with AdamW under a warm-up and cosine learning-rate schedule, and stops
    early when the mean Pearson r on held-out runs no longer improves (never
    before ``min_steps`` optimizer steps), keeping the best epoch's weights.
    This is the non-linear multimodal encoder of Mind the Gap (arXiv
    2502.12771), with defaults measured on synthetic problems of 1 000 to
    30 000 samples (``benchmarks/neural_defaults.py``); the paper's settings
    are in the Notes.

    Parameters
    ----------
    delays : int or array-like of int, default=4
        Delays in samples. An int ``n`` means ``1, ..., n``; a sequence is
        taken as given.
    n_components : int or None, default=512
        Principal components of the responses predicted by the network,
        capped by the number of training samples and of targets. ``None``
        keeps that cap. The PCA is fitted on the training runs only.
    hidden_units : int or tuple of int, default=256
        Width of the hidden layer; a tuple gives one hidden layer per entry
        (``()`` gives a linear model in component space).
    activation : {"gelu", "relu", "tanh"}, default="gelu"
        Non-linearity of the hidden layers. GELU and ReLU have an even part,
        so even a freshly initialised network has a gradient towards even
        functions of the features (such as ``|x . w|``); tanh (the paper's)
        is odd and starts on a plateau there.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer (the paper's).
    dropout : float, default=0.5
        Dropout probability after each hidden activation.
    loss : {"mse", "l1"}, default="mse"
        Training loss in component space: mean squared error, or mean
        absolute error (the paper's).
    interaction : {"full", "late"}, default="full"
        ``"full"``: one network on the delayed features of all feature spaces
        together, so it can model cross-space interactions. ``"late"``: one
        network per feature space, their outputs summed (non-linear within a
        space, additive across spaces: the paper's DIMLP ablation).
    feature_spaces : dict or None, default=None
        ``{name: columns}`` (a slice, column indices, or an int block size):
        the feature spaces (modalities) of ``X``. ``None`` is one space of all
        columns. Only ``interaction="late"`` uses it.
    batch_size : int, default=128
        Samples (time points) per optimizer step.
    max_epochs : int, default=200
        Maximum number of passes over the training samples; the learning-rate
        schedule spans them.
    %(training_parameters)s
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout and batch shuffling, without
        touching torch's or NumPy's global random state.
    %(verbose_parameter)s

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on the CPU, in eval mode.
    components_ : ndarray of shape (n_components_, n_targets_)
        Principal axes of the standardised training responses.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance of the standardised training responses along each axis.
    n_components_ : int
        Number of components predicted.
    pca_scale_ : float
        Common factor dividing the component scores during training (their
        root mean variance), so that the loss is of order 1.
    y_mean_, y_scale_ : ndarray of shape (n_targets_,)
        Mean and standard deviation of the training responses.
    x_mean_, x_scale_ : ndarray of shape (n_features_in_,)
        Mean and standard deviation of the training features.
    delays_ : ndarray of int
        The delays used, in samples.
    feature_spaces_ : dict of str to ndarray of int
        Columns of each feature space.
    %(training_attributes)s
    n_targets_ : int
        Number of targets.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    brainenc.DelayedRidge : The linear baseline on the same delayed features.

    Notes
    -----
    Targets are standardised on the training runs, then projected on their
    principal axes. The network predicts the component scores divided by one
    common factor; the relative scale of the components is kept (they are
    not whitened), so the loss weights each component by its variance, as
    an error on the targets themselves would, and noise-dominated trailing
    components weigh little. Features are standardised on the training runs
    before they are delayed (so delayed copies share the scale of the
    original column). Validation mean r is computed on the targets, after the
    inverse PCA, exactly as :meth:`score` would.

    The settings of Mind the Gap (tanh, batch norm, dropout 0.2, mean absolute
    error, a constant learning rate of 1e-3, 10 epochs of patience) are::

        PCAMLPEncoder(activation="tanh", batch_norm=True, dropout=0.2,
                      loss="l1", lr=1e-3, lr_schedule="constant", warmup=0.0,
                      min_steps=0, patience=10)

    They suit the paper's 33 000 training samples; at 1 000-5 000 samples an
    epoch is about 10 optimizer steps, and on a non-linear truth they stop on
    the initial plateau (``benchmarks/README.md``).

    :meth:`fit` warns (:class:`~sklearn.exceptions.ConvergenceWarning`) when
    the network learned nothing: its best validation mean r is within chance
    of the untrained network's (before the first step) or of predicting the
    training mean.

    Examples
    --------
    >>> import numpy as np
    >>> from brainenc.neural import PCAMLPEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 6))
    >>> y = np.tanh(X[:, :3] @ rng.standard_normal((3, 20)))
    >>> groups = np.repeat([0, 1, 2, 3], 100)
    >>> model = PCAMLPEncoder(delays=[0], n_components=8, hidden_units=32,
    ...                       random_state=0)
    >>> model = model.fit(X[:300], y[:300], groups=groups[:300])
    >>> model.predict(X[300:]).shape
    (100, 20)
    >>> bool(model.score(X[300:], y[300:]) > 0.9)
    True
    >>> model.n_epochs_, model.n_steps_  # 2 batches per epoch, all 200 epochs
    (200, 400)
    """

    _parameter_constraints = {
        **_NeuralEncoder._parameter_constraints,
        "delays": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_units": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "batch_norm": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "loss": [StrOptions({"mse", "l1"})],
        "interaction": [StrOptions({"full", "late"})],
    }

    def __init__(
        self,
        delays=4,
        *,
        n_components=512,
        hidden_units=256,
        activation="gelu",
        batch_norm=False,
        dropout=0.5,
        loss="mse",
        interaction="full",
        feature_spaces=None,
        batch_size=128,
        max_epochs=200,
        lr=3e-3,
        lr_schedule="onecycle",
        warmup=0.05,
        weight_decay=1e-2,
        max_grad_norm=None,
        min_steps=1000,
        patience=0.3,
        validation_runs=0.2,
        device="auto",
        mixed_precision=False,
        random_state=None,
        verbose=0,
    ):
        self.delays = delays
        self.n_components = n_components
        self.hidden_units = hidden_units
        self.activation = activation
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.loss = loss
        self.interaction = interaction
        self.feature_spaces = feature_spaces
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.min_steps = min_steps
        self.patience = patience
        self.validation_runs = validation_runs
        self.device = device
        self.mixed_precision = mixed_precision
        self.random_state = random_state
        self.verbose = verbose

    # Hooks of _NeuralEncoder (see brainenc.neural._base).
    def _fit_preprocessing(self, X, Y, groups):
        self.delays_ = check_delays(self.delays)
        _check_hidden_units(self.hidden_units)
        self.y_mean_, self.y_scale_ = column_mean_scale(Y)
        Ys = (Y - self.y_mean_) / self.y_scale_
        cap = min(Ys.shape)
        k = cap if self.n_components is None else min(self.n_components, cap)
        self.components_, self.explained_variance_ = target_pca(Ys, k)
        self.n_components_ = self.components_.shape[0]
        mean_var = float(np.mean(self.explained_variance_))
        self.pca_scale_ = float(np.sqrt(mean_var)) if mean_var > 0 else 1.0

    def _make_dataset(self, X, Y, groups, *, training, generator):
        inputs = _as_tensor(_delay_features(X, self.delays_, groups))
        return torch.utils.data.TensorDataset(inputs, _as_tensor(self._encode_y(Y)))

    def _build_module(self):
        n_delays = self.delays_.size
        kwargs = {
            "hidden_units": _check_hidden_units(self.hidden_units),
            "activation": self.activation,
            "batch_norm": self.batch_norm,
            "dropout": self.dropout,
        }
        if self.interaction == "full":
            n_inputs = self.n_features_in_ * n_delays
            return MLP(n_inputs, self.n_components_, **kwargs)
        columns = [
            _delayed_columns(cols, n_delays) for cols in self.feature_spaces_.values()
        ]
        return LateInteractionMLP(columns, self.n_components_, **kwargs)

    def _make_criterion(self):
        return nn.L1Loss() if self.loss == "l1" else nn.MSELoss()

    def _predict_standardized(self, module, X, groups, device):
        inputs = _as_tensor(_delay_features(X, self.delays_, groups))
        return self._decode_y(self._predict_in_batches(module, inputs, device))

    def _encode_y(self, Y):
        Ys = (Y - self.y_mean_) / self.y_scale_
        return (Ys @ self.components_.T) / self.pca_scale_

    def _decode_y(self, Z):
        Ys = (Z * self.pca_scale_) @ self.components_
        return Ys * self.y_scale_ + self.y_mean_


def target_pca(Y, n_components):
    """Leading principal axes of ``Y`` (centred by the caller or not).

    Uses the eigendecomposition of the smaller of the two Gram matrices
    (``Y.T @ Y`` or ``Y @ Y.T``); axes with zero variance are dropped.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_targets)
        Responses, centred (the mean is removed here again for safety).
    n_components : int
        Number of axes wanted (at most ``min(Y.shape)``).

    Returns
    -------
    components : ndarray of shape (k, n_targets)
        Orthonormal rows, in decreasing order of variance, the largest
        absolute loading of each positive (``k <= n_components``).
    variance : ndarray of shape (k,)
        Variance (``ddof=0``) of ``Y`` along each axis.
    """
    Y = np.asarray(Y, dtype=np.float64)
    Y = Y - Y.mean(axis=0)
    n_samples, n_targets = Y.shape
    k = int(min(n_components, n_samples, n_targets))
    small = n_targets <= n_samples
    gram = Y.T @ Y if small else Y @ Y.T
    size = gram.shape[0]
    eigval, eigvec = scipy.linalg.eigh(
        gram, subset_by_index=(size - k, size - 1), driver="evr"
    )
    eigval, eigvec = np.clip(eigval[::-1], 0.0, None), eigvec[:, ::-1]
    keep = eigval > 1e-10 * eigval[0]
    keep[0] = True
    eigval, eigvec = eigval[keep], eigvec[:, keep]
    if small:
        components = eigvec.T
    elif eigval[0] > 0:
        components = (Y.T @ eigvec / np.sqrt(eigval)).T
    else:  # constant targets: any unit axis will do
        components = np.eye(1, n_targets)
    largest = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), largest])
    components = components * signs[:, None]
    return components.astype(np.float32), (eigval / n_samples).astype(np.float32)


def _check_hidden_units(hidden_units):
    if isinstance(hidden_units, numbers.Integral) and not isinstance(
        hidden_units, bool
    ):
        return (int(hidden_units),)
    units = tuple(hidden_units)
    if not all(
        isinstance(u, numbers.Integral) and not isinstance(u, bool) and u >= 1
        for u in units
    ):
        raise ValueError(
            f"hidden_units must be a positive int or a tuple of positive ints "
            f"(one per hidden layer), got {hidden_units!r}."
        )
    return units
