"""Tests of summary.md: headline numbers from the result, short, and every user string escaped."""

from __future__ import annotations

import re

from helpers.sample_result import HOSTILE, sample_result

from audit.render import formatting as f
from audit.render.markdown import md, render_markdown


def test_headline_numbers_and_sections(result):
    text = render_markdown(result)
    assert text.startswith("## Audit of seed\\-cnn")
    assert "❌ **Release gate failed**: 1 of 2 rules failed." in text
    assert "| max\\_ece | 0\\.0812 | 0\\.05 |" in text
    assert f"**Accuracy** {f.pct(result['overall']['accuracy'])} (95% CI {f.ci(result['overall']['accuracy_ci'])})" in text
    assert "ECE 8.12% (95% CI [7.44%, 8.81%]); after temperature scaling (T = 1.732) 1.51%" in text
    assert "**Ethics checklist** 19 of 22 items open" in text
    assert "### Worst classes" in text and "| airplane | 45.0% |" in text
    assert "Error rate undefined (no samples): truck." in text
    assert "| brightness | image property (proxy) |" in text
    assert len(text.splitlines()) < 40
    assert not re.search(r"\b(nan|None|null)\b", text)


def test_without_gate_checklist_or_disparity():
    result = sample_result(gate=False)
    result["checklist"] = None
    result["disparity"] = []
    text = render_markdown(result)
    assert "Release gate" not in text and "Ethics checklist" not in text and "Disparity" not in text
    assert "**Accuracy**" in text


def test_md_escapes_markdown_and_html():
    assert md("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert md("a|b*c_[d](e)") == "a\\|b\\*c\\_\\[d\\]\\(e\\)"
    assert md("line\nbreak") == "line break"


def test_hostile_strings_escaped(hostile):
    text = render_markdown(hostile)
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text
    assert "\\{\\{7\\*7\\}\\}" in text
    pipes = re.compile(r"(?<!\\)\|")
    tables = re.findall(r"(?m)(?:^\|.*\n)+", text)
    assert len(tables) == 3  # failed rules, worst classes, disparity
    for table in tables:  # hostile cells never add columns to a table
        assert len({len(pipes.findall(line)) for line in table.splitlines()}) == 1, table
    assert all(bad not in text for bad in HOSTILE)


def test_baseline_line_reads_the_compare_shape(result):
    result["baseline"] = {"source": "old.npz", "kind": "predictions",
                          "overall": {"accuracy_before": 0.70, "accuracy_after": 0.6877, "delta": -0.0123,
                                      "mcnemar": {"b": 9, "c": 2, "p_value": 0.0654}}, "per_class": []}
    text = render_markdown(result)
    assert "overall accuracy 70.0% → 68.8%, change \u22121.2 pp (exact McNemar p = 0.065)" in text
