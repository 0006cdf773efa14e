"""The torch modules of the neural encoders (module level, so they pickle)."""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "MLP",
    "ConvTemporalModule",
    "LateInteractionMLP",
    "MaskedMSELoss",
    "conv_context",
    "depthwise_conv1d",
]

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class MLP(nn.Module):
    """Multilayer perceptron: (Linear, BatchNorm, activation, Dropout)* + Linear.

    Parameters
    ----------
    n_inputs : int
        Input features.
    n_outputs : int
        Outputs of the final linear layer.
    hidden_units : tuple of int
        Width of each hidden layer; ``()`` gives a linear model.
    activation : {"tanh", "relu", "gelu"}
        Non-linearity after each hidden layer.
    batch_norm : bool
        Batch normalisation after each hidden linear layer.
    dropout : float
        Dropout probability after each hidden activation.
    """

    def __init__(
        self,
        n_inputs,
        n_outputs,
        hidden_units=(256,),
        activation="tanh",
        batch_norm=True,
        dropout=0.2,
    ):
        super().__init__()
        layers = []
        width = n_inputs
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = units
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class LateInteractionMLP(nn.Module):
    """One MLP per feature space; their outputs are summed.

    Each space's network sees only that space's columns, so the model is
    non-linear within a space but additive across spaces (no cross-space
    interaction): the DIMLP ablation of Mind the Gap.

    Parameters
    ----------
    columns : list of sequence of int
        Input columns of each space.
    n_outputs : int
        Outputs of every branch (summed).
    **mlp_kwargs
        ``hidden_units``, ``activation``, ``batch_norm``, ``dropout`` of each
        branch (see :class:`MLP`).
    """

    def __init__(self, columns, n_outputs, **mlp_kwargs):
        super().__init__()
        self.n_spaces = len(columns)
        for i, cols in enumerate(columns):
            self.register_buffer(f"columns_{i}", torch.as_tensor(cols).long())
        self.branches = nn.ModuleList(
            MLP(len(cols), n_outputs, **mlp_kwargs) for cols in columns
        )

    def forward(self, x):
        out = 0
        for i, branch in enumerate(self.branches):
            out = out + branch(x[:, getattr(self, f"columns_{i}")])
        return out


class ConvTemporalModule(nn.Module):
    """Per-space projection and depthwise temporal convolution, subject heads.

    Maps ``X`` of shape ``(batch, time, n_features)`` to
    ``(batch, time, n_subjects * n_targets)``. For each space ``s``, the
    columns ``space_columns[s]`` are projected (``Linear``, no bias) to
    ``embed_dim`` channels and filtered by a depthwise ``Conv1d`` (no bias)
    over time with zero padding; the embeddings are summed, go through
    dropout, then through a shared head plus a residual head per subject.

    Parameters
    ----------
    space_columns : list of sequence of int
        Input columns of each feature space.
    embed_dim : int
        Channels of the embeddings.
    kernel_size : int
        Length of the temporal filters.
    n_targets : int
        Targets per subject.
    n_subjects : int, default=1
        Number of residual heads.
    causal : bool, default=False
        Pad only on the left, so the output at ``t`` sees inputs up to ``t``.
    dropout : float, default=0.0
        Dropout on the summed embedding.
    """

    def __init__(
        self,
        space_columns,
        embed_dim,
        kernel_size,
        n_targets,
        n_subjects=1,
        causal=False,
        dropout=0.0,
    ):
        super().__init__()
        self.n_spaces = len(space_columns)
        self.context = conv_context(kernel_size, causal)
        for i, columns in enumerate(space_columns):
            self.register_buffer(
                f"columns_{i}", torch.as_tensor(np.asarray(columns), dtype=torch.long)
            )
        # No bias before the convolution: zero features give a zero embedding,
        # so zeros in X outside a run are the convolution's zero padding.
        self.projections = nn.ModuleList(
            nn.Linear(len(columns), embed_dim, bias=False) for columns in space_columns
        )
        self.convs = nn.ModuleList(
            nn.Conv1d(embed_dim, embed_dim, kernel_size, groups=embed_dim, bias=False)
            for _ in space_columns
        )
        self.dropout = nn.Dropout(dropout)
        self.shared_head = nn.Linear(embed_dim, n_targets)
        self.subject_weight = nn.Parameter(
            torch.zeros(n_subjects, embed_dim, n_targets)
        )
        self.subject_bias = nn.Parameter(torch.zeros(n_subjects, n_targets))

    def forward(self, X):
        past, future = self.context
        embedding = 0
        for i in range(self.n_spaces):
            x = X.index_select(-1, getattr(self, f"columns_{i}"))
            h = self.projections[i](x).transpose(1, 2)
            conv = self.convs[i]
            embedding = embedding + depthwise_conv1d(
                F.pad(h, (past, future)), conv.weight
            )
        h = self.dropout(embedding.transpose(1, 2))
        shared = self.shared_head(h).unsqueeze(2)
        residual = torch.einsum("bte,sen->btsn", h, self.subject_weight)
        out = shared + residual + self.subject_bias
        return out.reshape(out.shape[0], out.shape[1], -1)


class MaskedMSELoss(nn.Module):
    """Mean squared error over the entries where the target is not NaN.

    ``sum((y_pred - y_true)**2 over non-NaN entries) / (number of non-NaN
    entries)``; 0 when every entry is NaN. Masked entries get a zero gradient
    (NaN never reaches the backward pass).
    """

    def forward(self, y_pred, y_true):
        mask = ~torch.isnan(y_true)
        diff = (y_pred - torch.where(mask, y_true, 0.0)) * mask
        return diff.square().sum() / mask.sum().clamp(min=1)


def depthwise_conv1d(x, weight):
    """Depthwise 1-D convolution (no padding) with a fast backward pass on CPU.

    Equal to ``F.conv1d(x, weight, groups=weight.shape[0])``; the gradients
    are computed by two forward convolutions (the input's with the flipped
    kernel, the kernel's with the batch folded into the groups), which on
    the CPU is several times faster than torch's depthwise backward.

    Parameters
    ----------
    x : torch.Tensor of shape (batch, channels, length)
        Input, already padded.
    weight : torch.Tensor of shape (channels, 1, kernel_size)
        One filter per channel.

    Returns
    -------
    torch.Tensor of shape (batch, channels, length - kernel_size + 1)
    """
    return _DepthwiseConv1d.apply(x, weight)


class _DepthwiseConv1d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return F.conv1d(x, weight, groups=weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        channels, _, size = weight.shape
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            padded = F.pad(grad, (size - 1, size - 1))
            grad_x = F.conv1d(padded, weight.flip(-1), groups=channels)
        if ctx.needs_input_grad[1]:
            batch, _, length = x.shape
            folded = F.conv1d(
                x.reshape(1, batch * channels, length),
                grad.reshape(batch * channels, 1, grad.shape[-1]),
                groups=batch * channels,
            )
            grad_weight = folded.reshape(batch, channels, size).sum(0).unsqueeze(1)
        return grad_x, grad_weight


def conv_context(kernel_size, causal):
    """Samples before and after ``t`` that the output at ``t`` depends on.

    Returns ``(past, future)``: ``(kernel_size - 1, 0)`` when causal, else
    ``((kernel_size - 1) // 2, kernel_size // 2)``.
    """
    if causal:
        return kernel_size - 1, 0
    return (kernel_size - 1) // 2, kernel_size // 2
