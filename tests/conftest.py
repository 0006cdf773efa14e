"""Test-session settings shared by every test module."""

import importlib.util
import socket

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


@pytest.fixture
def no_network(monkeypatch):
    """Fail a test that opens a network connection (tests must never download).

    The neuroimaging tests use it: nilearn ships the fsaverage5 meshes and the
    MNI template they draw on, and this proves nothing is fetched instead.
    """

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
