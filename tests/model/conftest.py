"""Fixtures for the model tests: an isolated dataset cache, the shared dataset where present (else
synthetic images), and one small trained model shared by the tests that read it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.cifar_fixtures import shared_archive, synthetic_cifar

from audit.model.data import Cifar10


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audit-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(session_cache, monkeypatch):
    # Never touch the user's cache, never pick up their AUDIT_DATA.
    monkeypatch.setenv("AUDIT_CACHE", str(session_cache))
    monkeypatch.delenv("AUDIT_DATA", raising=False)


@pytest.fixture(scope="session")
def small_data(session_cache) -> Cifar10:
    """The shared dataset where present (cached extraction), else synthetic images."""
    archive = shared_archive()
    if archive is None:
        return synthetic_cifar()
    from audit.model.data import load_cifar10

    saved = os.environ.get("AUDIT_CACHE")
    os.environ["AUDIT_CACHE"] = str(session_cache)
    try:
        return load_cifar10(archive)
    finally:
        if saved is None:
            os.environ.pop("AUDIT_CACHE", None)
        else:
            os.environ["AUDIT_CACHE"] = saved


@pytest.fixture(scope="session")
def trained(small_data, tmp_path_factory):
    """One epoch on 300 images, saved; shared by the tests that read a model folder."""
    from audit.model.train import train

    out = tmp_path_factory.mktemp("trained") / "cifar10-seed"
    return train(small_data, epochs=1, limit=300, seed=7, out_dir=out, verbose=0)
