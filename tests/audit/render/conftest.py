"""Fixtures of the renderer tests: the sample result and its hostile twin."""

from __future__ import annotations

import pytest
from helpers.sample_result import hostile_result, sample_result


@pytest.fixture
def result():
    return sample_result()


@pytest.fixture
def hostile():
    return hostile_result()
