"""ConvTemporalEncoder: per-space depthwise temporal convolution, subject heads."""

import numpy as np
import torch

from .._compat import Integral, Interval, Real
from .._validation import run_slices
from ._base import (
    _as_tensor,
    _NeuralEncoder,
    check_subject_targets,
    column_mean_scale,
    fill_training_docs,
)
from .modules import ConvTemporalModule, MaskedMSELoss, conv_context

__all__ = ["ConvTemporalEncoder"]


@fill_training_docs
class ConvTemporalEncoder(_NeuralEncoder):
    """Temporal convolution encoder with a head per subject (multi-subject).

    Each feature space is projected linearly to ``embed_dim`` channels and
    filtered in time by a depthwise 1-D convolution of ``kernel_size``
    samples (one temporal filter per channel); the spaces' embeddings are
    summed, passed through dropout, and read out by a linear head shared by
    all subjects plus a residual linear head per subject. It is the encoder of
    MedARC's Algonauts 2025 entry (arXiv 2507.19956): the temporal filters
    can integrate the stimulus over tens of samples, far beyond the few
    delays of a ridge model, with few parameters.

    Several subjects who saw the same stimulus are fitted jointly: ``y``
    holds their targets side by side, ``(n_samples, n_subjects * n_targets)``
    (subject 0's targets, then subject 1's, ...). A subject's missing samples
    are NaN in ``y``: they are left out of the loss, of the early-stopping
    validation r and of :meth:`score`.

    Training draws random windows of ``window_len`` samples inside runs
    (never across a run boundary); prediction runs every run as one sequence.

    Parameters
    ----------
    embed_dim : int, default=64
        Channels of each feature space's embedding (MedARC's: 192; 64 was as
        accurate and 2-3 times faster on the CPU in
        ``benchmarks/neural_defaults.py``).
    kernel_size : int, default=45
        Length in samples of the temporal filters.
    causal : bool, default=True
        ``True``: the output at ``t`` sees only the inputs from
        ``t - kernel_size + 1`` to ``t`` (the past and present), as a
        response depends on the stimulus that preceded it. ``False``: "same"
        convolution, the output at ``t`` sees the inputs from
        ``t - (kernel_size - 1) // 2`` to ``t + kernel_size // 2``, so only
        about half the kernel reaches into the past.
    n_subjects : int, default=1
        Number of subjects whose targets are side by side in ``y``; the
        number of columns of ``y`` must be a multiple of it.
    feature_spaces : dict or None, default=None
        ``{name: columns}`` (a slice, column indices, or an int block size):
        the feature spaces (modalities) of ``X``, each with its own
        projection and temporal filters. ``None`` is one space of all columns.
    dropout : float, default=0.1
        Dropout probability on the summed embedding.
    modality_dropout : float, default=0.0
        During training, probability of zeroing a whole feature space in a
        window (independently per window and per space; when every space of a
        window is drawn, one of them, chosen at random, is kept).
    window_len : int, default=64
        Samples per training window.
    windows_per_epoch : int, default=2000
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
    module_ : ConvTemporalModule
        The trained network, on the CPU, in eval mode.
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
    brainenc.DelayedRidge : The linear baseline over a few delays.
    brainenc.neural.PCAMLPEncoder : A non-linear encoder over a few delays.

    Notes
    -----
    Features are standardised on the training rows; outside a run the
    network sees zeros (the training mean): the projections have no bias,
    so this is the zero padding of the convolution, at the edges of every
    run in training windows and in prediction alike. A training window
    carries the ``kernel_size - 1`` samples of context around it (zeros
    beyond its run), and only the window's own samples enter the loss, so
    each of them sees exactly the inputs it sees at prediction. A run
    shorter than ``window_len`` is one window, padded: its padded samples
    are masked. Windows are drawn uniformly among all windows inside runs.

    The loss is the mean squared error over the non-missing entries of the
    standardised responses of a batch (every subject and target pooled).
    The residual heads start at zero, so every subject starts from the
    shared head. ``dropout=0.1`` is this library's choice, not the paper's.

    The defaults were measured on synthetic problems of 1 000 to 30 000
    samples (``benchmarks/README.md``): a causal kernel integrates a
    40-sample window of the past that a centred one of 45 taps only half
    sees, and 64 channels at ``lr=1e-3`` were as accurate as MedARC's 192 at
    ``3e-4``, and 2-3 times faster. MedARC's settings are::

        ConvTemporalEncoder(embed_dim=192, causal=False, lr=3e-4,
                            lr_schedule="constant", warmup=0.0, min_steps=0,
                            patience=3)

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.signal import lfilter
    >>> from brainenc.neural import ConvTemporalEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((800, 5))
    >>> groups = np.repeat([0, 1, 2, 3], 200)
    >>> slow = np.concatenate([lfilter(np.ones(20) / 20, 1, X[groups == g], axis=0)
    ...                        for g in range(4)])
    >>> y = slow @ rng.standard_normal((5, 6))
    >>> model = ConvTemporalEncoder(embed_dim=8, kernel_size=21, causal=True,
    ...                             windows_per_epoch=64, lr=5e-2,
    ...                             max_epochs=3, random_state=0)
    >>> model = model.fit(X[:600], y[:600], groups=groups[:600])
    >>> model.predict(X[600:]).shape
    (200, 6)
    >>> bool(model.score(X[600:], y[600:]) > 0.8)
    True
    """

    _parameter_constraints = {
        **_NeuralEncoder._parameter_constraints,
        "embed_dim": [Interval(Integral, 1, None, closed="left")],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "causal": ["boolean"],
        "n_subjects": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "modality_dropout": [Interval(Real, 0, 1, closed="left")],
        "window_len": [Interval(Integral, 1, None, closed="left")],
        "windows_per_epoch": [Interval(Integral, 1, None, closed="left")],
    }

    _allow_nan_y = True

    def __init__(
        self,
        embed_dim=64,
        *,
        kernel_size=45,
        causal=True,
        n_subjects=1,
        feature_spaces=None,
        dropout=0.1,
        modality_dropout=0.0,
        window_len=64,
        windows_per_epoch=2000,
        batch_size=16,
        max_epochs=15,
        lr=1e-3,
        lr_schedule="onecycle",
        warmup=0.05,
        weight_decay=0.1,
        max_grad_norm=None,
        min_steps=1000,
        patience=0.3,
        validation_runs=0.2,
        device="auto",
        mixed_precision=False,
        random_state=None,
        verbose=0,
    ):
        self.embed_dim = embed_dim
        self.kernel_size = kernel_size
        self.causal = causal
        self.n_subjects = n_subjects
        self.feature_spaces = feature_spaces
        self.dropout = dropout
        self.modality_dropout = modality_dropout
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

    # Hooks of _NeuralEncoder (see brainenc.neural._base).
    def _fit_preprocessing(self, X, Y, groups):
        self.n_subjects_ = int(self.n_subjects)
        self.n_targets_per_subject_ = check_subject_targets(
            Y, self.n_subjects_, missing="the shared head's alone"
        )
        self.y_mean_, self.y_scale_ = column_mean_scale(Y, allow_nan=True)

    def _make_dataset(self, X, Y, groups, *, training, generator):
        Ys = (Y - self.y_mean_) / self.y_scale_
        context = conv_context(self.kernel_size, self.causal)
        spaces = list(self.feature_spaces_.values())
        if training:
            return _RandomWindows(
                X,
                Ys,
                groups,
                self.window_len,
                self.windows_per_epoch,
                context,
                generator,
                spaces=spaces,
                modality_dropout=self.modality_dropout,
            )
        return _TiledWindows(X, Ys, groups, self.window_len, context)

    def _build_module(self):
        return ConvTemporalModule(
            list(self.feature_spaces_.values()),
            embed_dim=self.embed_dim,
            kernel_size=self.kernel_size,
            n_targets=self.n_targets_per_subject_,
            n_subjects=self.n_subjects_,
            causal=self.causal,
            dropout=self.dropout,
        )

    def _make_criterion(self):
        return MaskedMSELoss()

    def _predict_standardized(self, module, X, groups, device):
        outputs = []
        for run in run_slices(groups):
            x = _as_tensor(X[run])[None].to(device)
            outputs.append(module(x)[0].float().cpu().numpy())
        if not outputs:
            return np.zeros((0, self.n_targets_), dtype=np.float32)
        return np.concatenate(outputs) * self.y_scale_ + self.y_mean_


def sample_windows(run_lengths, window_len, n_windows, generator):
    """Draw windows uniformly among all windows that lie inside one run.

    Parameters
    ----------
    run_lengths : array-like of int of shape (n_runs,)
        Number of samples of each run.
    window_len : int
        Samples per window.
    n_windows : int
        Number of windows to draw.
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    runs : ndarray of int of shape (n_windows,)
        Run index of each window.
    starts : ndarray of int of shape (n_windows,)
        First sample of each window, counted from the start of its run. A run
        shorter than ``window_len`` has one window, starting at 0 (it covers
        the whole run, and the caller pads it).
    """
    run_lengths = np.asarray(run_lengths, dtype=np.int64)
    n_starts = np.maximum(run_lengths - window_len + 1, 1)
    ends = np.cumsum(n_starts)
    flat = torch.randint(int(ends[-1]), (n_windows,), generator=generator).numpy()
    runs = np.searchsorted(ends, flat, side="right")
    starts = flat - (ends[runs] - n_starts[runs])
    return runs, starts


def gather_windows(X, Y, run_starts, run_lengths, runs, starts, window_len, context):
    """Cut windows with their input context; zeros and NaN outside the run.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features of all runs, one after the other.
    Y : ndarray of shape (n_samples, n_targets)
        Targets.
    run_starts, run_lengths : array-like of int of shape (n_runs,)
        First row and number of samples of each run.
    runs, starts : array-like of int of shape (n_windows,)
        Run and first sample (within the run) of each window.
    window_len : int
        Samples per window.
    context : tuple of (int, int)
        Samples of input context before and after each window.

    Returns
    -------
    X_win : ndarray of shape (n_windows, past + window_len + future, n_features)
        Features of each window and its context, zero outside its run.
    Y_win : ndarray of shape (n_windows, past + window_len + future, n_targets)
        Targets of the window's samples; NaN on the context and outside the
        run, so that a masked loss counts every sample of the window once.
    """
    past, future = context
    offsets = np.arange(-past, window_len + future)
    runs = np.asarray(runs)
    lengths = np.asarray(run_lengths)[runs][:, None]
    pos = np.asarray(starts)[:, None] + offsets[None, :]
    in_run = (pos >= 0) & (pos < lengths)
    index = np.clip(pos, 0, lengths - 1) + np.asarray(run_starts)[runs][:, None]
    X_win = np.where(in_run[..., None], X[index], 0).astype(np.float32, copy=False)
    target = in_run & (offsets >= 0) & (offsets < window_len)
    Y_win = np.where(target[..., None], Y[index], np.nan).astype(np.float32, copy=False)
    return X_win, Y_win


class _Runs:
    """Rows of ``X`` and ``Y`` with the start and length of every run."""

    def __init__(self, X, Y, groups, window_len, context):
        slices = run_slices(groups)
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.Y = np.ascontiguousarray(Y, dtype=np.float32)
        self.starts = np.array([s.start for s in slices], dtype=np.int64)
        self.lengths = np.array([s.stop - s.start for s in slices], dtype=np.int64)
        self.window_len = window_len
        self.context = context

    def cut(self, runs, starts):
        return gather_windows(
            self.X,
            self.Y,
            self.starts,
            self.lengths,
            runs,
            starts,
            self.window_len,
            self.context,
        )


class _RandomWindows(torch.utils.data.Dataset):
    """``n_windows`` random windows inside runs, new ones at every access."""

    def __init__(
        self,
        X,
        Y,
        groups,
        window_len,
        n_windows,
        context,
        generator,
        *,
        spaces,
        modality_dropout,
    ):
        self.runs = _Runs(X, Y, groups, window_len, context)
        self.n_windows = n_windows
        self.generator = generator
        self.spaces = spaces
        self.modality_dropout = modality_dropout

    def __len__(self):
        return self.n_windows

    def __getitem__(self, index):
        runs, starts = sample_windows(
            self.runs.lengths, self.runs.window_len, 1, self.generator
        )
        drop = draw_dropped(len(self.spaces), self.modality_dropout, self.generator)
        return self.item(int(runs[0]), int(starts[0]), drop)

    def item(self, run, start, drop):
        """The window at ``start`` of ``run``, dropped spaces zeroed."""
        X_win, Y_win = self.runs.cut([run], [start])
        x, y = X_win[0], Y_win[0]
        for columns in (c for c, d in zip(self.spaces, drop, strict=True) if d):
            x[:, columns] = 0.0
        return torch.from_numpy(x), torch.from_numpy(y)


def draw_dropped(n_spaces, modality_dropout, generator):
    """Modality dropout of one window: which of ``n_spaces`` spaces to drop,
    each with probability ``modality_dropout``, one always kept."""
    drop = np.zeros(n_spaces, dtype=bool)
    if modality_dropout > 0 and n_spaces > 1:
        drop = (torch.rand(n_spaces, generator=generator) < modality_dropout).numpy()
        if drop.all():
            keep = torch.randint(n_spaces, (1,), generator=generator)
            drop[int(keep)] = False
    return drop


class _TiledWindows(torch.utils.data.Dataset):
    """Consecutive windows covering every run once (validation loss)."""

    def __init__(self, X, Y, groups, window_len, context):
        self.runs = _Runs(X, Y, groups, window_len, context)
        per_run = -(-self.runs.lengths // window_len)
        self.run_of = np.repeat(np.arange(per_run.size), per_run)
        self.start_of = np.concatenate([np.arange(n) * window_len for n in per_run])

    def __len__(self):
        return self.run_of.size

    def __getitem__(self, index):
        X_win, Y_win = self.runs.cut(
            self.run_of[index : index + 1], self.start_of[index : index + 1]
        )
        return torch.from_numpy(X_win[0]), torch.from_numpy(Y_win[0])
