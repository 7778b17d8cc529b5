"""The headline numbers, picked once: hand-worked on the gate fixture, and the same picks in every place that
shows them (terminal, summary.md, the history's key metrics)."""

from __future__ import annotations

import pytest
from helpers.gate_fixtures import make_result

from audit.history.record import key_metrics
from audit.render.markdown import render_markdown
from audit.render.text import summarize
from audit.result.headline import headline


def test_headline_of_the_gate_fixture_by_hand():
    # gate fixture: accuracy 0.7, error rates cat 0.4 / dog 0.3 / ship 0.2, disparity differences 0.04
    # (region) and 0.375 (brightness, a proxy), review load 0.4 at the 90% target, no robustness
    h = headline(make_result())
    assert (h.n, h.n_classes, h.accuracy) == (300, 3, 0.7)
    assert [r["class"] for r in h.worst_classes] == ["cat", "dog", "ship"] and h.worst_class["error_rate"] == 0.4
    assert h.largest_disparity["name"] == "brightness" and h.largest_disparity["difference"] == 0.375
    assert h.review.review_load == 0.4 and h.review.target_accuracy == 0.9
    assert h.robustness is None


def test_robustness_headline_by_hand():
    result = make_result()
    result["robustness"] = {"mean_accuracy": 0.55, "clean": {"accuracy": 0.7}, "cells": [{}] * 6,
                            "by_corruption": [{"corruption": "fog", "accuracy": 0.6},
                                              {"corruption": "snow", "accuracy": 0.45},
                                              {"corruption": "blur", "accuracy": None}]}
    r = headline(result).robustness
    assert (r.mean_accuracy, r.clean_accuracy, r.worst_corruption, r.worst_corruption_accuracy, r.n_cells) == \
        (0.55, 0.7, "snow", 0.45, 6)
    assert "robustness        mean accuracy under corruption 55.0% (clean 70.0%, 6 cells); worst snow 45.0%" \
        in summarize(result)
    assert "- **Robustness** mean accuracy under corruption 55.0% over 6 cells (clean 70.0%); worst corruption " \
           "snow 45.0%" in render_markdown(result)
    assert key_metrics(result)["robustness_mean"] == 0.55


@pytest.mark.parametrize("where", ["terminal", "summary.md", "history"])
def test_every_place_shows_the_same_worst_class_and_largest_disparity(where):
    result = make_result()
    result["per_class"][2]["error_rate"] = 0.4  # a tie with cat: the lower class index (cat) wins everywhere
    text = {"terminal": lambda: summarize(result), "summary.md": lambda: render_markdown(result),
            "history": lambda: str(key_metrics(result))}[where]()
    h = headline(result)
    assert h.worst_class["class"] == "cat"
    if where == "history":
        assert key_metrics(result)["worst_class_error"] == 0.4 and key_metrics(result)["largest_disparity"] == 0.375
    else:
        assert "brightness" in text and ("cat" in text)


def test_no_review_or_robustness_lines_without_the_sections():
    result = make_result()
    del result["selective"]
    assert "human review" not in summarize(result) and "Human review" not in render_markdown(result)
    assert "robustness" not in summarize(result)


def test_explanations_headline_by_hand():
    section = {"method": "grad-cam", "layer": "dropout", "items": [{}] * 24, "reason": None,
               "sanity": {"randomization_rank_correlation": 0.031, "deletion_win_rate": 1.0, "verdicts": []}}
    line = headline({"explanations": section}).explanations.line
    assert line == ("grad-cam (layer dropout) on 24 images; randomisation rank correlation 0.03, deletion win rate "
                    "1.00: the sanity checks do not flag them")
    section["sanity"] = {"randomization_rank_correlation": 0.8, "deletion_win_rate": None, "verdicts": ["x"]}
    assert headline({"explanations": section}).explanations.line.endswith(
        "rank correlation 0.80: 1 sanity check(s) say not to trust the maps (see report)")
    absent = {"method": None, "items": [], "reason": "needs a model in the loop", "sanity": None}
    assert headline({"explanations": absent}).explanations.line == "none (needs a model in the loop)"
    assert headline({}).explanations is None
