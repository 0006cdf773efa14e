"""The torch modules of the neural encoders (module level, so they pickle)."""

import torch
from torch import nn

__all__ = ["MLP", "LateInteractionMLP"]

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
