"""MultimodalTransformerEncoder: layer attention pooling and a transformer trunk."""

import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._compat import Integral, Interval, Real, StrOptions
from .._validation import (
    check_groups,
    check_int,
    run_slices,
    user_stacklevel,
    validate_X,
)
from ._base import (
    _as_tensor,
    _NeuralEncoder,
    check_subject_targets,
    column_mean_scale,
    fill_training_docs,
)
from .conv import _RandomWindows as _ConvRandom
from .conv import _TiledWindows as _ConvTiles
from .modules import MaskedMSELoss, MultimodalTransformerModule

__all__ = ["MIRAGE_SETTINGS", "MultimodalTransformerEncoder"]

#: The settings of MIRAGE (arXiv 2605.29850; ``configs/experiments/mirage.yaml``
#: of epflneuroailab/mirage), for ``MultimodalTransformerEncoder(
#: **MIRAGE_SETTINGS)``: sized for a GPU and tens of thousands of TRs.
MIRAGE_SETTINGS = {
    "hidden_dim": 3072,
    "depth": 8,
    "heads": 8,
    "ff_mult": 4,
    "dropout": 0.0,
    "layer_pooling": "attention",
    "n_queries": 24,
    "pooler_heads": 4,
    "pooler_dropout": 0.2,
    "modality_dropout": 0.3,
    "window_len": 100,
    "batch_size": 16,
    "lr": 1e-4,
    "lr_schedule": "onecycle",
    "warmup": 0.1,
    "weight_decay": 0.01,
    "max_grad_norm": 1.0,
    "max_epochs": 15,
    "min_steps": 0,
    "patience": None,
    "mixed_precision": True,
}


@fill_training_docs
class MultimodalTransformerEncoder(_NeuralEncoder):
    """Transformer encoder over layer-pooled multimodal features (MIRAGE, TRIBE).

    Each feature space (modality) holds the layer stack of a frozen
    backbone: its columns are its layers side by side, layer-major
    (``np.hstack([layer0, layer1, ...])``), ``n_layers`` of them. At every
    time step, a **layer pooler** turns a space's layers into one vector:
    learned queries cross-attending over the layer tokens
    (``layer_pooling="attention"``, MIRAGE), the mean over layers
    (``"mean"``), or means over fractional depth ranges (``"groups"``,
    TRIBE). Each space is then projected linearly to its share of
    ``hidden_dim``, the spaces are concatenated, and a pre-norm transformer
    encoder (rotary and learned absolute positions) runs over time, followed
    by a linear head per subject. Training draws random windows of
    ``window_len`` samples inside runs; prediction averages overlapping
    windows.

    The attention pooler says which layers each space's prediction relies
    on: ``layer_attention_`` (and :meth:`layer_attention` for any data) is
    the attention over layers, which peaks at the layers that carry the
    signal. :meth:`predict_ablated` replaces whole spaces by the null the
    model was trained with (``modality_dropout``), the in-distribution
    leave-one-modality-out of :func:`brainenc.ablate_feature_spaces` with
    ``replace="null"``.

    Several subjects who saw the same stimulus are fitted jointly: ``y``
    holds their targets side by side, ``(n_samples, n_subjects *
    n_targets)``. A subject's missing samples are NaN in ``y``: they are
    left out of the loss, of the early-stopping validation r and of
    :meth:`score`.

    Parameters
    ----------
    hidden_dim : int, default=64
        Channels of the transformer: the spaces' projections, split as evenly
        as possible among the spaces, side by side. A multiple of ``heads``
        whose quotient (the head dimension) is even.
    depth : int, default=2
        Transformer blocks (0: no mixing over time).
    heads : int, default=4
        Attention heads of the transformer.
    ff_mult : int, default=2
        Width of the feed-forward network of a block, in multiples of
        ``hidden_dim``.
    dropout : float, default=0.3
        Dropout on the transformer's attention weights and residual branches.
    feature_spaces : dict or None, default=None
        ``{name: columns}`` (a slice, column indices, or an int block size):
        the feature spaces (modalities) of ``X``. ``None`` is one space of
        all columns, named ``"all"``.
    n_layers : int or dict, default=1
        Layers of each feature space: an int for all of them, or ``{name:
        int}`` (spaces left out have one layer). A space's columns must
        split into ``frames_per_sample * n_layers`` blocks of equal size.
    frames_per_sample : int, default=1
        Sub-TR frames per row: a space's columns are ``frames_per_sample``
        blocks (frame-major), each holding its layers. The transformer runs
        on ``frames_per_sample * n_samples`` frames and the head outputs of
        a row's frames are averaged (MIRAGE's post-head pooling).
    layer_pooling : {"attention", "mean", "groups"}, default="attention"
        How a space with several layers becomes one vector per frame.
        ``"attention"``: ``n_queries`` learned queries with ``pooler_heads``
        heads attend over the layer tokens (LayerNorm before and after,
        query outputs concatenated). ``"mean"``: the mean over layers.
        ``"groups"``: the means over the depth ranges of ``layer_groups``,
        concatenated. A space with one layer is not pooled.
    n_queries : int, default=2
        Learned queries of the attention pooler.
    pooler_heads : int, default=1
        Heads of the attention pooler; must divide the columns of a layer of
        every attention-pooled space.
    pooler_dropout : float, default=0.0
        Dropout on the attention pooler's weights.
    layer_embedding : bool, default=True
        Add a learned embedding of each layer to its keys in the attention
        pooler, so that a query can select layers by depth as well as by
        content.
    layer_groups : tuple of float, default=(0.5, 0.75, 1.0)
        Upper bounds of the fractional depth ranges of
        ``layer_pooling="groups"``: layer ``i`` of ``L`` (from 0) has depth
        ``(i + 1) / L`` and range ``g`` holds the depths in
        ``(layer_groups[g - 1], layer_groups[g]]``; increasing, in (0, 1],
        ending at 1. Empty ranges (few layers) are left out.
    modality_dropout : float, default=0.2
        During training, probability of replacing a whole space by its
        learned null embedding, independently per window and per space;
        when every space of a window is drawn, one of them, chosen at
        random, is kept. The null is what :meth:`predict_ablated` uses.
    n_subjects : int, default=1
        Number of subjects whose targets are side by side in ``y``.
    shared_head : bool, default=False
        Add a head shared by all subjects to the per-subject heads (which
        then start at zero).
    window_len : int, default=64
        Samples per training and prediction window.
    windows_per_epoch : int, default=1000
        Random windows drawn per epoch.
    batch_size : int, default=16
        Windows per optimizer step.
    max_epochs : int, default=15
        Maximum number of epochs (of ``windows_per_epoch`` windows); the
        learning-rate schedule spans them.
    %(training_parameters)s
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, the random windows and modality
        dropout, without touching torch's or NumPy's global random state.
    %(verbose_parameter)s

    Attributes
    ----------
    module_ : MultimodalTransformerModule
        The trained network, on the CPU, in eval mode.
    layer_attention_ : dict of str to ndarray of shape \
(pooler_heads, n_queries, n_layers)
        For every attention-pooled space (several layers,
        ``layer_pooling="attention"``), the attention over its layers
        averaged over the frames of the validation runs (of the training
        runs without validation), in eval mode; each row sums to 1.
    n_layers_ : dict of str to int
        Layers of each space.
    layer_dims_ : dict of str to int
        Columns of one layer of one frame of each space.
    space_dims_ : dict of str to int
        Channels of each space's projection (they sum to ``hidden_dim``).
    n_subjects_ : int
        Number of subjects.
    n_targets_per_subject_ : int
        Targets of each subject (``n_targets_ // n_subjects_``).
    y_mean_, y_scale_ : ndarray of shape (n_targets_,)
        Mean and standard deviation of the training responses (NaN left
        out); the network predicts the standardised responses.
    x_mean_, x_scale_ : ndarray of shape (n_features_in_,)
        Mean and standard deviation of the training features.
    feature_spaces_ : dict of str to ndarray of int
        Columns of each feature space.
    %(training_attributes)s
    n_targets_ : int
        Number of columns of ``y`` (all subjects).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    brainenc.DelayedRidge : The linear baseline (on layer-mean features).
    brainenc.neural.ConvTemporalEncoder : Per-space temporal convolutions.
    brainenc.TargetwiseEnsemble : ``method="softmax"`` is MIRAGE's ensemble.

    Notes
    -----
    Features are standardised on the training rows. Windows never cross a
    run boundary; a run shorter than ``window_len`` is one window, padded,
    and padded samples never enter attention, the loss or validation.
    Prediction slides windows of ``window_len`` samples over every run by
    half a window (the last one ending at the run's end) and averages the
    predictions of each sample over the windows that hold it, so no seam
    appears where windows meet.

    The loss is the mean squared error over the non-missing entries of the
    standardised responses of a batch (every subject and target pooled).

    The attention pooler is MIRAGE's, with two differences: the values are
    the normalised layer tokens themselves (the query and key projections
    are learned, the value and output projections are not: the linear
    projection of the space that follows maps the pooled vectors), which
    keeps its cost linear in the layers' dimension, and a learned layer
    embedding added to the keys (``layer_embedding``) lets queries select
    layers by depth, which per-column standardisation (it removes the
    per-layer offsets that set layers apart) would otherwise leave to
    content alone. It starts at the scale of a normalised token: on
    :func:`~brainenc.datasets.make_layered_data` (400 steps at ``lr=3e-3``)
    the attention at the two driving layers reached 0.99 and 0.89 this way,
    0.64 and 0.19 with an embedding of scale 0.02 added to keys and
    values. The transformer's blocks are pre-norm LayerNorm blocks with a
    GELU feed-forward network (MIRAGE and TRIBE use x-transformers' blocks
    with ScaleNorm); TRIBE's model is ``layer_pooling="groups"``.

    The defaults train on a laptop CPU at 1 000 to 5 000 samples and were
    chosen by measurement (``benchmarks/transformer_epochs.py``; tables in
    ``benchmarks/README.md``): an epoch takes about 4 s on one core with 2
    spaces of 6 layers x 32 columns, 18 s with 3 spaces of 12 layers x 256,
    70 s at a backbone's full width (3 x 12 x 768; reduce each layer's
    dimension first, or use a GPU). MIRAGE's settings are the dict
    :data:`brainenc.neural.MIRAGE_SETTINGS`, for a GPU::

        MultimodalTransformerEncoder(**MIRAGE_SETTINGS, n_layers=...,
                                     feature_spaces=..., n_subjects=...)

    (hidden 3072, depth 8, 8 heads, 24 queries of 4 heads, pooler dropout
    0.2, modality dropout 0.3, 100-sample windows, lr 1e-4 with 10% warm-up
    and cosine decay, weight decay 0.01, gradient clipping at 1.0, 15
    epochs keeping the best, bfloat16 on CUDA); MIRAGE then ensembles
    several such models per parcel with
    ``TargetwiseEnsemble(method="softmax", temperature=0.3)``.

    References
    ----------
    .. [1] MIRAGE: Adaptive Multimodal Gating for Whole-Brain fMRI Encoding,
       arXiv:2605.29850 (code: epflneuroailab/mirage).
    .. [2] TRIBE: TRImodal Brain Encoder for whole-brain fMRI response
       prediction, arXiv:2507.22229 (code: facebookresearch/algonauts-2025).

    Examples
    --------
    >>> from brainenc.datasets import make_layered_data
    >>> from brainenc.neural import MultimodalTransformerEncoder
    >>> X, y, groups, truth = make_layered_data(
    ...     n_samples=600, n_spaces=2, n_layers=4, layer_dim=4, n_targets=4,
    ...     n_runs=3, random_state=0)
    >>> model = MultimodalTransformerEncoder(
    ...     16, depth=1, feature_spaces=truth.feature_spaces, n_layers=4,
    ...     window_len=16, windows_per_epoch=64, max_epochs=2, min_steps=0,
    ...     random_state=0)
    >>> model = model.fit(X[groups < 2], y[groups < 2], groups=groups[groups < 2])
    >>> model.predict(X[groups == 2]).shape
    (200, 4)
    >>> {space: a.shape for space, a in model.layer_attention_.items()}
    {'space0': (1, 2, 4), 'space1': (1, 2, 4)}
    """

    _parameter_constraints = {
        **_NeuralEncoder._parameter_constraints,
        "hidden_dim": [Interval(Integral, 1, None, closed="left")],
        "depth": [Interval(Integral, 0, None, closed="left")],
        "heads": [Interval(Integral, 1, None, closed="left")],
        "ff_mult": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left"), dict],
        "frames_per_sample": [Interval(Integral, 1, None, closed="left")],
        "layer_pooling": [StrOptions({"attention", "mean", "groups"})],
        "n_queries": [Interval(Integral, 1, None, closed="left")],
        "pooler_heads": [Interval(Integral, 1, None, closed="left")],
        "pooler_dropout": [Interval(Real, 0, 1, closed="left")],
        "layer_embedding": ["boolean"],
        "layer_groups": [tuple, list],
        "modality_dropout": [Interval(Real, 0, 1, closed="left")],
        "n_subjects": [Interval(Integral, 1, None, closed="left")],
        "shared_head": ["boolean"],
        "window_len": [Interval(Integral, 1, None, closed="left")],
        "windows_per_epoch": [Interval(Integral, 1, None, closed="left")],
    }

    _allow_nan_y = True

    def __init__(
        self,
        hidden_dim=64,
        *,
        depth=2,
        heads=4,
        ff_mult=2,
        dropout=0.3,
        feature_spaces=None,
        n_layers=1,
        frames_per_sample=1,
        layer_pooling="attention",
        n_queries=2,
        pooler_heads=1,
        pooler_dropout=0.0,
        layer_embedding=True,
        layer_groups=(0.5, 0.75, 1.0),
        modality_dropout=0.2,
        n_subjects=1,
        shared_head=False,
        window_len=64,
        windows_per_epoch=1000,
        batch_size=16,
        max_epochs=15,
        lr=2e-3,
        lr_schedule="onecycle",
        warmup=0.1,
        weight_decay=0.01,
        max_grad_norm=1.0,
        min_steps=500,
        patience=0.3,
        validation_runs=0.2,
        device="auto",
        mixed_precision=True,
        random_state=None,
        verbose=0,
    ):
        self.hidden_dim = hidden_dim
        self.depth = depth
        self.heads = heads
        self.ff_mult = ff_mult
        self.dropout = dropout
        self.feature_spaces = feature_spaces
        self.n_layers = n_layers
        self.frames_per_sample = frames_per_sample
        self.layer_pooling = layer_pooling
        self.n_queries = n_queries
        self.pooler_heads = pooler_heads
        self.pooler_dropout = pooler_dropout
        self.layer_embedding = layer_embedding
        self.layer_groups = layer_groups
        self.modality_dropout = modality_dropout
        self.n_subjects = n_subjects
        self.shared_head = shared_head
        self.window_len = window_len
        self.windows_per_epoch = windows_per_epoch
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

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, groups=None):
        """Train the network, with early stopping on held-out runs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features, time along axis 0: every space's layers (and
            frames) side by side.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Responses; ``n_subjects`` blocks of targets side by side, NaN
            where a subject has no sample.
        groups : array-like of shape (n_samples,), default=None
            Run labels (contiguous runs): windows never cross a run, and the
            validation set for early stopping is made of whole runs (see
            ``validation_runs``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, groups=groups)

    def _after_training(self, Xs_valid):
        self.layer_attention_ = {
            space: weights.mean(axis=0)
            for space, weights in self._layer_attention(
                Xs_valid, per_sample=False
            ).items()
        }

    # Hooks of _NeuralEncoder (see brainenc.neural._base).
    def _fit_preprocessing(self, X, Y, groups):
        self._check_architecture()
        self.n_subjects_ = int(self.n_subjects)
        self.n_targets_per_subject_ = check_subject_targets(
            Y, self.n_subjects_, missing="their untrained head's"
        )
        self.y_mean_, self.y_scale_ = column_mean_scale(Y, allow_nan=True)

    def _make_dataset(self, X, Y, groups, *, training, generator):
        Ys = (Y - self.y_mean_) / self.y_scale_
        n_spaces = len(self.feature_spaces_)
        if training:
            return _RandomWindows(
                X,
                Ys,
                groups,
                self.window_len,
                self.windows_per_epoch,
                generator,
                n_spaces=n_spaces,
                modality_dropout=self.modality_dropout,
            )
        return _TiledWindows(X, Ys, groups, self.window_len, n_spaces)

    def _build_module(self):
        spaces = list(self.feature_spaces_)
        return MultimodalTransformerModule(
            [self.feature_spaces_[s] for s in spaces],
            [self.n_layers_[s] for s in spaces],
            [self.space_dims_[s] for s in spaces],
            self.n_targets_per_subject_,
            self.n_subjects_,
            pooling=self.layer_pooling,
            n_queries=self.n_queries,
            pooler_heads=self.pooler_heads,
            pooler_dropout=self.pooler_dropout,
            layer_embedding=self.layer_embedding,
            layer_groups=tuple(self.layer_groups),
            frames_per_sample=self.frames_per_sample,
            max_frames=self.window_len * self.frames_per_sample,
            depth=self.depth,
            heads=self.heads,
            ff_mult=self.ff_mult,
            dropout=self.dropout,
            shared_head=self.shared_head,
        )

    def _make_criterion(self):
        return MaskedMSELoss()

    def _predict_standardized(self, module, X, groups, device, ablate=()):
        spaces = list(self.feature_spaces_)
        drop = torch.tensor([s in ablate for s in spaces])[None].to(device)
        out = np.zeros((X.shape[0], self.n_targets_), dtype=np.float32)
        for run in run_slices(groups):
            out[run] = self._predict_run(module, X[run], device, drop)
        return out * self.y_scale_ + self.y_mean_

    def _predict_run(self, module, X, device, drop):
        """Average of the predictions of overlapping windows over one run."""
        n, window = X.shape[0], self.window_len
        if n <= window:
            x = _as_tensor(X)[None].to(device)
            return module(x, drop=drop)[0].float().cpu().numpy()
        stride = max(1, window // 2)
        starts = np.arange(0, n - window + 1, stride)
        if starts[-1] != n - window:
            starts = np.append(starts, n - window)
        total = np.zeros((n, self.n_targets_), dtype=np.float64)
        count = np.zeros((n, 1), dtype=np.float64)
        offsets = np.arange(window)
        # Windows per forward pass: at most 4096 samples (frames_per_sample
        # frames each), and outputs of at most 2**24 values (64 MiB), whatever
        # the number of targets.
        chunk = max(1, min(4096 // window, 2**24 // (window * self.n_targets_)))
        for first in range(0, starts.size, chunk):
            batch = starts[first : first + chunk]
            x = _as_tensor(X[batch[:, None] + offsets[None, :]]).to(device)
            pred = module(x, drop=drop.expand(len(batch), -1)).float().cpu().numpy()
            for start, values in zip(batch, pred, strict=True):
                total[start : start + window] += values
                count[start : start + window] += 1.0
        return (total / count).astype(np.float32)

    # ------------------------------------------------------- interpretation
    def layer_attention(self, X, groups=None, *, per_sample=False):
        """Attention of each space's pooler over its layers, on any data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features laid out as in :meth:`fit`.
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X``. The pooler sees one frame at a time, so the
            attention does not depend on them; they are accepted so that
            code passing runs to every method works unchanged.
        per_sample : bool, default=False
            Return the time-resolved profile (one per sample) instead of its
            mean over samples.

        Returns
        -------
        attention : dict of str to ndarray
            For every attention-pooled space, the weights over its layers:
            ``(pooler_heads, n_queries, n_layers)`` averaged over the frames
            of ``X``, or with ``per_sample=True`` ``(n_samples,
            pooler_heads, n_queries, n_layers)`` averaged over the
            ``frames_per_sample`` frames of each sample. Every row (last
            axis) sums to 1. Empty when no space is pooled by attention.
        """
        check_is_fitted(self, "module_")
        if not isinstance(per_sample, (bool, np.bool_)):
            raise TypeError(
                f"per_sample must be True or False, got "
                f"{type(per_sample).__name__} {per_sample!r}."
            )
        X = validate_X(self, X, reset=False).astype(np.float32, copy=False)
        check_groups(groups, X.shape[0])
        attention = self._layer_attention(self._standardize(X), per_sample=True)
        if per_sample:
            return attention
        return {space: w.mean(axis=0) for space, w in attention.items()}

    def _layer_attention(self, Xs, *, per_sample):
        """Per-sample attention of the attention-pooled spaces (float64)."""
        module = self.module_
        was_training = module.training
        module.eval()
        spaces = list(self.feature_spaces_)
        chunks = {}
        try:
            with torch.inference_mode():
                for start in range(0, Xs.shape[0], 256):
                    x = _as_tensor(Xs[start : start + 256])[None]
                    weights = module.layer_attention(x)
                    for space, w in zip(spaces, weights, strict=True):
                        if w is None:
                            continue
                        w = w.double().reshape(-1, self.frames_per_sample, *w.shape[1:])
                        chunks.setdefault(space, []).append(w.mean(dim=1).numpy())
        finally:
            module.train(was_training)
        return {space: np.concatenate(parts) for space, parts in chunks.items()}

    def predict_ablated(self, X, spaces, groups=None):
        """Predict with whole feature spaces replaced by the trained null.

        Every frame of the spaces ``spaces`` gets the learned null embedding
        that replaced a dropped space in training (``modality_dropout``):
        the leave-one-modality-out the network was trained for, where zeroed
        inputs would be out of distribution.
        :func:`brainenc.ablate_feature_spaces` with ``replace="null"`` calls
        this for every space in turn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stimulus features.
        spaces : str or sequence of str
            Names of the feature spaces to ablate (``[]``: :meth:`predict`).
        groups : array-like of shape (n_samples,), default=None
            Run labels of ``X``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_targets) or (n_samples,)
            Predicted responses without the ablated spaces.

        Warns
        -----
        UserWarning
            When the model was trained with ``modality_dropout=0``: it never
            saw the null, so the ablated prediction is out of distribution
            too.
        """
        check_is_fitted(self, "module_")
        known = ", ".join(map(repr, self.feature_spaces_))
        if isinstance(spaces, str):
            names = [spaces]
        elif isinstance(spaces, (list, tuple, set, frozenset, np.ndarray)):
            names = list(spaces)
        else:
            raise TypeError(
                f"spaces must be the name of a feature space or a list of names "
                f"({known}), got {type(spaces).__name__} {spaces!r}."
            )
        unknown = [s for s in names if s not in self.feature_spaces_]
        if unknown or not all(isinstance(s, str) for s in names):
            raise ValueError(
                f"spaces must name feature spaces of the model ({known}), got "
                f"{spaces!r}."
            )
        reason = self._untrained_null(names)
        if reason is not None:
            warnings.warn(
                f"predict_ablated: {reason}, so the network never saw the null "
                f"in the place of {', '.join(map(repr, dict.fromkeys(names)))}; "
                f"the ablated prediction is out of distribution, like zeroed "
                f"inputs. Train with modality_dropout > 0 (e.g. 0.2) and two or "
                f"more feature spaces, and ablate fewer than all of them.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        return self._predict(X, groups, ablate=tuple(names))

    def _untrained_null(self, names):
        """Why the null of the spaces ``names`` was never trained, or None."""
        if not names:
            return None
        if self.modality_dropout == 0:
            return "the model was trained with modality_dropout=0"
        if len(self.feature_spaces_) == 1:
            return (
                "the model has one feature space, which training never drops "
                "(one space is always kept)"
            )
        if set(names) == set(self.feature_spaces_):
            return "training always keeps one space, never drops all of them"
        return None

    # ------------------------------------------------------------ helpers
    def _check_architecture(self):
        """Layers, dimensions and head sizes of every space (fitted attrs)."""
        spaces = list(self.feature_spaces_)
        n_layers = self.n_layers
        if isinstance(n_layers, bool):
            raise ValueError(
                f"n_layers must be an int >= 1 or a dict of space name to int, "
                f"got {n_layers!r}."
            )
        if isinstance(n_layers, dict):
            unknown = [name for name in n_layers if name not in self.feature_spaces_]
            if unknown:
                raise ValueError(
                    f"n_layers names {', '.join(map(repr, unknown))}, not among "
                    f"the feature spaces ({', '.join(map(repr, spaces))})."
                )
            for name, value in n_layers.items():
                check_int(value, f"n_layers[{name!r}]", minimum=1)
            self.n_layers_ = {s: int(n_layers.get(s, 1)) for s in spaces}
        else:
            self.n_layers_ = {s: int(n_layers) for s in spaces}
        frames = int(self.frames_per_sample)
        self.layer_dims_ = {}
        for space in spaces:
            n_columns = len(self.feature_spaces_[space])
            blocks = frames * self.n_layers_[space]
            if n_columns % blocks:
                raise ValueError(
                    f"feature space {space!r} has {n_columns} columns, which do "
                    f"not split into frames_per_sample={frames} x n_layers="
                    f"{self.n_layers_[space]} blocks of equal size: expected a "
                    f"multiple of {blocks} (its columns are its frames side by "
                    f"side, each its layers side by side)."
                )
            self.layer_dims_[space] = n_columns // blocks
        self._check_layer_groups()
        if self.layer_pooling == "attention":
            for space in spaces:
                dim = self.layer_dims_[space]
                if self.n_layers_[space] > 1 and dim % self.pooler_heads:
                    raise ValueError(
                        f"pooler_heads={self.pooler_heads} must divide the columns "
                        f"of a layer, but feature space {space!r} has {dim} "
                        f"columns per layer."
                    )
        n_spaces = len(spaces)
        if self.hidden_dim < n_spaces:
            raise ValueError(
                f"hidden_dim={self.hidden_dim} must give each of the {n_spaces} "
                f"feature spaces at least one channel."
            )
        if self.depth > 0 and (
            self.hidden_dim % self.heads or (self.hidden_dim // self.heads) % 2
        ):
            raise ValueError(
                f"hidden_dim={self.hidden_dim} must be a multiple of heads="
                f"{self.heads} with an even quotient (the head dimension, which "
                f"rotary position embeddings need even)."
            )
        base, extra = divmod(int(self.hidden_dim), n_spaces)
        self.space_dims_ = {space: base + (k < extra) for k, space in enumerate(spaces)}

    def _check_layer_groups(self):
        bounds = self.layer_groups
        try:
            values = [float(b) for b in bounds]
        except (TypeError, ValueError):
            values = None
        if (
            values is None
            or not values
            or any(not 0 < b <= 1 for b in values)
            or any(b <= a for a, b in zip(values, values[1:], strict=False))
            or values[-1] != 1.0
        ):
            raise ValueError(
                "layer_groups must be increasing fractional depths in (0, 1] "
                f"ending at 1.0, such as (0.5, 0.75, 1.0), got {bounds!r}."
            )


class _WindowItems:
    """Items of window datasets: features, padding mask, dropped spaces; y.

    ``self.runs`` is the runs' :class:`~brainenc.neural.conv._Runs` (windows
    cut without context: attention sees the window only).
    """

    def item(self, run, start, drop):
        X_win, Y_win = self.runs.cut([run], [start])
        mask = np.arange(self.runs.window_len) < self.runs.lengths[run] - start
        x = {
            "X": torch.from_numpy(X_win[0]),
            "mask": torch.from_numpy(mask),
            "drop": torch.from_numpy(drop),
        }
        return x, torch.from_numpy(Y_win[0])


class _RandomWindows(_WindowItems, _ConvRandom):
    """``n_windows`` random windows inside runs, new ones at every access,
    with modality dropout drawn per window (the dropped spaces get the null
    in the module, from the item's ``drop``)."""

    def __init__(
        self,
        X,
        Y,
        groups,
        window_len,
        n_windows,
        generator,
        *,
        n_spaces,
        modality_dropout,
    ):
        super().__init__(
            X,
            Y,
            groups,
            window_len,
            n_windows,
            (0, 0),
            generator,
            spaces=range(n_spaces),
            modality_dropout=modality_dropout,
        )


class _TiledWindows(_WindowItems, _ConvTiles):
    """Consecutive windows covering every run once (validation loss)."""

    def __init__(self, X, Y, groups, window_len, n_spaces):
        super().__init__(X, Y, groups, window_len, (0, 0))
        self.n_spaces = n_spaces

    def __getitem__(self, index):
        drop = np.zeros(self.n_spaces, dtype=bool)
        return self.item(int(self.run_of[index]), int(self.start_of[index]), drop)
