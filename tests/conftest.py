"""Test-session settings shared by every test module."""

import importlib.util

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Train the tiny test networks on one torch thread.

    Their matrices are so small that a second thread only adds overhead (and,
    on a loaded 2-core machine, contention that slows them 20-100 times).
    Restored at the end of the session.
    """
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
