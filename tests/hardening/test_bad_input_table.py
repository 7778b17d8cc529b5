"""docs/bad-input.md: every row of the bad-input table names a test, and every named test exists.

Run as a script (``python tests/hardening/test_bad_input_table.py``) it prints the counts per section.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "docs" / "bad-input.md"
ROW = re.compile(r"^\|\s*([A-Z])(\d+)\s*\|")
DEFAULT_FILE = re.compile(r"^Tests: `([^`]+\.py)` unless another file is named", re.M)
REFERENCE = re.compile(r"`((?:tests/[\w/.-]+\.py)(?:::[\w]+(?:\[[^\]`]*\])?)?|test_\w+(?:\[[^\]`]*\])?)`")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def rows() -> list[tuple[str, str, str]]:
    """(row id, default test file of its section or '', test cell) for each table row."""
    out, default = [], ""
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            default = ""
        found = DEFAULT_FILE.match(line)
        if found:
            default = found.group(1)
        match = ROW.match(line)
        if match:
            out.append((match.group(1) + match.group(2), default, _cells(line)[-1]))
    return out


@lru_cache(maxsize=None)
def _test_names(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(node.name for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"))


def missing_references(default: str, cell: str) -> tuple[list[str], list[str]]:
    """(references found in a test cell, those that do not resolve to an existing test)."""
    refs = REFERENCE.findall(cell)
    bad = []
    for ref in refs:
        file, _, test = ref.partition("::") if ref.startswith("tests/") else (default, "", ref)
        path = REPO / file
        if not file or not path.is_file():
            bad.append(ref)
            continue
        if not test:
            if not _test_names(path):
                bad.append(ref)
            continue
        name, _, param = test.partition("[")
        if name not in _test_names(path):
            bad.append(ref)
        elif param and f'"{param.rstrip("]")}"' not in path.read_text(encoding="utf-8"):
            bad.append(ref)  # a parametrised case: its id must be a string in that file
    return refs, bad


def test_the_table_has_at_least_30_rows_in_every_section():
    ids = [row_id for row_id, _, _ in rows()]
    assert len(ids) >= 30 and len(ids) == len(set(ids))
    assert {i[0] for i in ids} == set("PDMICGOHRXYK")  # X: ONNX models (issue 22), Y: the library's arguments (21), K: Dask (25)


def test_every_row_names_a_test_that_exists():
    problems = {}
    for row_id, default, cell in rows():
        refs, bad = missing_references(default, cell)
        if not refs or bad:
            problems[row_id] = bad or "no test named"
    assert problems == {}


def test_the_readme_states_how_many_cases_the_table_has():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"[docs/bad-input.md](docs/bad-input.md) ({len(rows())} cases)" in readme.replace("\n", " ")


if __name__ == "__main__":
    counts: dict[str, list[int]] = {}
    for row_id, default, cell in rows():
        refs, bad = missing_references(default, cell)
        entry = counts.setdefault(row_id[0], [0, 0])
        entry[0] += 1
        entry[1] += bool(refs) and not bad
    for section, (n, ok) in counts.items():
        print(f"{section}: {n} rows, {ok} naming existing tests")
    total = sum(n for n, _ in counts.values())
    print(f"total: {total} rows, {sum(ok for _, ok in counts.values())} naming existing tests")
    sys.exit(0)
