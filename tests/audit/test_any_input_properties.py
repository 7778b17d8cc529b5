"""Property: any valid predictions file audits. Random K in [2, 1000], random classes absent from the
labels and never predicted, a group column of groups from 1 to thousands of samples: `audit run` exits
0, writes every file, the report is well-formed HTML and the per-class numbers equal scikit-learn's."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.any_input import arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_fscore_support

from audit.cli import app

VOID = {"meta", "link", "br", "img", "col", "hr", "input", "wbr", "source"}
SVG_EMPTY = {"rect", "line", "path", "circle"}  # written self-closed inside inline SVG


class TagBalance(HTMLParser):
    """Fails on a closing tag that does not match the innermost open element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def assert_well_formed(html: str) -> None:
    parser = TagBalance()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack[-5:]}"
    assert html.startswith("<!DOCTYPE html>")


@st.composite
def audit_sets(draw):
    k = draw(st.one_of(st.integers(2, 12), st.integers(13, 1000)))
    classes = st.integers(0, k - 1)
    absent = draw(st.sets(classes, max_size=min(k - 1, 30)))
    never = draw(st.sets(classes, max_size=min(k - 1, 30)))
    if len(never) >= k:
        never = set(list(never)[: k - 1])
    big = draw(st.lists(st.integers(30, 3000), min_size=0, max_size=2))
    small = draw(st.lists(st.integers(1, 5), min_size=0, max_size=400))
    sizes = big + small or [1]
    seed = draw(st.integers(0, 2**31 - 1))
    return k, sorted(absent), sorted(never), sizes, seed


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=audit_sets())
def test_any_valid_file_audits(tmp_path_factory, case):
    k, absent, never, sizes, seed = case
    tmp = tmp_path_factory.mktemp("any")
    n = sum(sizes)
    labels, probs, groups = arrays(k, n, seed=seed, absent=absent, never_predicted=never, group_sizes=sizes)
    path = tmp / "preds.npz"
    np.savez(path, labels=labels, probs=probs, group_site=groups["site"],
             class_names=np.array([f"n{i:08d}" for i in range(k)]))
    out = tmp / "out"
    done = CliRunner().invoke(app, ["run", "--predictions", str(path), "--group-col", "site", "--out", str(out),
                                    "--bootstrap", "0", "--reproducible"])
    assert done.exit_code == 0, (done.output, done.exception)
    assert sorted(p.name for p in out.iterdir()) == ["audit.json", "junit.xml", "report.html", "summary.md"]
    assert_well_formed((out / "report.html").read_text(encoding="utf-8"))
    result = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    predicted = probs.argmax(axis=1)
    with np.errstate(all="ignore"):
        precision, recall, f1, support = precision_recall_fscore_support(
            labels, predicted, labels=list(range(k)), zero_division=np.nan)
    for row in result["per_class"]:
        i = row["index"]
        assert row["support"] == support[i]
        for name, want in (("precision", precision[i]), ("recall", recall[i]), ("f1", f1[i])):
            got = row[name]
            assert (got is None) == bool(np.isnan(want)), (name, i, got, want)
            if got is not None:
                assert got == pytest.approx(want, abs=1e-12)
    for c in absent:
        assert result["per_class"][c]["error_rate"] is None
    groups_out = result["disparity"][0]["groups"]
    assert sum(g["n"] for g in groups_out) == n and len(groups_out) == len(sizes)
