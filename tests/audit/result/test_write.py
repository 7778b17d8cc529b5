"""Reports are written as a set, atomically: a failed run never leaves half a file or destroys the old one."""

import json
import os

import pytest

from audit.result import write as outputs
from audit.errors import AuditError


def test_writes_all_files_and_no_temporaries(tmp_path):
    written = outputs.write_outputs(tmp_path / "r", {"a.txt": "A", "b.txt": "B"})
    assert sorted(p.name for p in written) == ["a.txt", "b.txt"]
    assert sorted(os.listdir(tmp_path / "r")) == ["a.txt", "b.txt"]


def test_failure_keeps_the_old_report(tmp_path, monkeypatch):
    out = tmp_path / "r"
    outputs.write_outputs(out, {"report.html": "old"})

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.os, "replace", boom)
    with pytest.raises(AuditError, match="No space left on device"):
        outputs.write_outputs(out, {"report.html": "new"})
    assert (out / "report.html").read_text() == "old"
    assert os.listdir(out) == ["report.html"]


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AuditError, match="cannot create the output folder"):
        outputs.write_outputs(blocker / "sub", {"a": "b"})


def test_dump_json_refuses_nan():
    assert json.loads(outputs.dump_json({"b": None, "a": 1})) == {"a": 1, "b": None}
    with pytest.raises(RuntimeError, match="non-finite"):
        outputs.dump_json({"x": float("nan")})


def test_dump_json_layout_short_structures_indented_long_lists_one_item_a_line():
    import json

    from audit.result.write import LONG_LIST, dump_json

    doc = {"b": [1, 2.5, None, "é"], "a": {"x": [{"k": 1}, {"k": [1, 2]}], "y": {}, "z": []},
           "long": [{"i": i, "s": "x"} for i in range(LONG_LIST + 1)]}
    text = dump_json(doc)
    assert json.loads(text) == doc and text == dump_json(json.loads(text))  # same bytes again
    lines = text.splitlines()
    assert '  "b": [1, 2.5, null, "é"],' in lines  # scalars on one line, not escaped
    assert '    {"i": 0, "s": "x"},' in lines and '    {"i": 50, "s": "x"}' in lines  # one item a line
    assert '        "k": 1' in lines  # a short list of objects indented as json.dumps(indent=2) would
    assert len(lines) == 1 + 12 + 1 + (LONG_LIST + 3) + 1  # {, "a" (12 lines), "b", "long" [items], }
