"""Tests of `audit checklist init` through the real CLI entry point."""

from __future__ import annotations

import pytest

from audit.gate.checklist import DEFAULT_FILE, load_checklist, template_text
from audit.cli import main


def run(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


def test_init_writes_template_to_default_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(["checklist", "init"]) == 0
    path = tmp_path / DEFAULT_FILE
    assert path.read_text(encoding="utf-8") == template_text()
    assert load_checklist(path)["answers"] == {}
    assert DEFAULT_FILE in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == [DEFAULT_FILE]  # no temporary file left behind


def test_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = tmp_path / "answers.toml"
    path.write_text("keep me", encoding="utf-8")
    assert run(["checklist", "init", "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "--force" in err and "Traceback" not in err
    assert path.read_text(encoding="utf-8") == "keep me"
    assert run(["checklist", "init", "--out", str(path), "--force"]) == 0
    assert path.read_text(encoding="utf-8") == template_text()


def test_init_into_new_folder(tmp_path):
    path = tmp_path / "sub" / "dir" / "answers.toml"
    assert run(["checklist", "init", "--out", str(path)]) == 0
    assert path.exists()
