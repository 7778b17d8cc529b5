"""The README's "Use from Python" example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Use from Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_use_from_python_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(python_example(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    result = namespace["result"]
    assert {p.name for p in (tmp_path / "reports" / "notebook-run").iterdir()} == {
        "audit.json", "report.html", "summary.md", "junit.xml"}
    assert namespace["release_ok"] is result.passed
    assert '<iframe sandbox=""' in result._repr_html_() and "audit-summary" in result._repr_html_()
    out = capsys.readouterr().out
    assert "audit of predictions: N = 500, 3 classes" in out and "min_accuracy" in out
