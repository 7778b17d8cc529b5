"""Golden outputs: every file the CLI writes on the fixed scenarios of ``helpers.golden`` is byte-identical
to tests/golden/expected/ (made by tests/golden/regen.py and reviewed when an output is meant to change)."""

from __future__ import annotations

import pytest
from helpers.golden import EXPECTED, run_scenarios


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    return run_scenarios(tmp_path_factory.mktemp("golden"))


def expected_files() -> dict[str, bytes]:
    return {str(p.relative_to(EXPECTED)): p.read_bytes() for p in sorted(EXPECTED.rglob("*")) if p.is_file()}


def test_the_same_files_are_written(produced):
    assert sorted(produced) == sorted(expected_files())


@pytest.mark.parametrize("key", sorted(expected_files()))
def test_each_file_is_byte_identical(produced, key):
    assert produced[key] == expected_files()[key], f"{key} differs from tests/golden/expected/{key}"
