"""AuditResult in a notebook (issue 21): pandas views, show(), save_html, regate, and the friendly inputs."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

import audit
from audit.errors import MSG_NUMBER
from audit.predictions import MSG_GROUPS_TYPE, MSG_PROB_COLUMNS

NAMES = ["cat", "dog", "bird"]


def arrays(n=150, k=3, seed=0):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    labels = np.where(rng.random(n) < 0.7, probs.argmax(axis=1), rng.integers(0, k, n))
    return probs, labels


@pytest.fixture(scope="module")
def result():
    probs, labels = arrays()
    region = np.asarray(["north", "south"])[np.arange(150) % 2]
    pred = audit.make_predictions(probs=probs, labels=labels, class_names=NAMES, groups={"region": region})
    return audit.run_audit(pred, n_bootstrap=0, name="my-model")


# -- pandas views -------------------------------------------------------------------------------------------


def test_views_are_the_numbers_of_the_result(result):
    d = result.data
    assert result.overall["accuracy"] == d["overall"]["accuracy"]
    assert result.overall["accuracy_ci_low"] == d["overall"]["accuracy_ci"][0]
    per_class = result.per_class
    assert list(per_class.index) == NAMES
    assert per_class.loc["dog", "error_rate"] == d["per_class"][1]["error_rate"]
    assert per_class["errors"].sum() == d["overall"]["n"] - d["overall"]["n_correct"]
    assert result.confusion.to_numpy().tolist() == d["confusion_matrix"]
    assert result.confusion.loc["cat"].sum() == d["per_class"][0]["support"]
    disparity = result.disparity
    assert disparity.loc[("region", "north"), "n"] == 75 and disparity["judged"].all()
    rules = result.rules
    assert list(rules.columns) == ["name", "passed", "skipped", "value", "threshold", "reason"]
    assert len(rules) == len(d["gate"]["rules"])
    assert result.robustness is None  # no corruptions were run


def test_overall_is_numeric_so_runs_stack_into_numeric_columns(result):
    overall = result.overall
    assert overall.dtype == np.float64 and overall["n"] == 150.0 and overall.name == "my-model"
    assert overall["ece"] == result.data["calibration"]["ece"]
    other = audit.AuditResult({**result.data, "overall": {**result.data["overall"], "accuracy": None, "note": "x"},
                               "run": {**result.data["run"], "name": "other"}})
    assert np.isnan(other.overall["accuracy"]) and "note" not in other.overall.index  # not a number: left out
    runs = pd.DataFrame([result.overall, other.overall])
    assert all(pd.api.types.is_float_dtype(t) for t in runs.dtypes)
    assert list(runs.index) == ["my-model", "other"] and runs.describe().loc["count", "n"] == 2


def test_label_issue_and_weak_slice_views(result):
    lq, sl = result.data["label_quality"], result.data["slices"]
    issues = result.label_issues
    assert list(issues.columns) == ["sample_id", "given", "suggested", "score"] and len(issues) == lq["n_flagged"]
    assert list(issues.index) == [f["index"] for f in lq["flagged"]]
    assert issues["score"].is_monotonic_increasing  # most suspicious (lowest score) first
    slices = result.weak_slices
    assert len(slices) == len(sl["found"]) and list(slices["confirmed"]) == [f["confirmed"] for f in sl["found"]]
    streamed = audit.AuditResult({"label_quality": {"computed": False, "reason": "streamed"}, "slices": {}})
    assert streamed.label_issues is None and streamed.weak_slices is None


def test_save_html_writes_the_report_alone(result, tmp_path):
    path = result.save_html(tmp_path / "r.html")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    assert path.read_text(encoding="utf-8") == result.render()["report.html"]


# -- the inline report --------------------------------------------------------------------------------------


def test_inline_report_summary_outside_the_frame_and_links_that_stay_inside(result):
    soup = BeautifulSoup(result._repr_html_(), "html.parser")
    summary = soup.find("table", class_="audit-summary")
    text = summary.get_text(" ")
    for label in ("Verdict", "Accuracy", "Worst class", "ECE", "Largest disparity", "Failed rules"):
        assert label in text
    frame = soup.find("iframe")
    assert "display: block" in frame["style"] and "box-sizing: border-box" in frame["style"]
    inner = BeautifulSoup(frame["srcdoc"], "html.parser")
    links = [a["href"] for a in inner.select("nav.toc a")]
    assert links and all(h.startswith("about:srcdoc#") for h in links)
    assert not [a for a in inner.find_all("a", href=True) if a["href"].startswith("#")]


def test_summary_and_repr_say_when_the_verdict_is_informational(result):
    """No policy= : the default policy judged for information only (exit code not affected); both say so."""
    from audit.audit_result import summary_html

    def verdict(data):
        summary = BeautifulSoup(summary_html(data), "html.parser").find("table", class_="audit-summary")
        return next(row.td.get_text() for row in summary.find_all("tr") if row.th.get_text() == "Verdict")

    word = "PASS" if result.passed else "FAIL"
    assert result.gate["informational"] is True
    assert verdict(result.data) == f"{word} (informational: default policy)"
    assert repr(result).endswith(f"gate {'passed' if result.passed else 'failed'} (informational)>")
    judged = result.regate({"accuracy": {"min": 0.99}})  # a policy given: the verdict counts
    assert verdict(judged.data) == "FAIL" and repr(judged).endswith("gate failed>")
    assert verdict({**result.data, "gate": None}) == "no verdict"


def test_show_picks_sections_and_height(result):
    soup = BeautifulSoup(result.show(height=400, sections=["calibration", "verdict"])._repr_html_(), "html.parser")
    frame = soup.find("iframe")
    assert "height: 400px" in frame["style"]
    inner = BeautifulSoup(frame["srcdoc"], "html.parser")
    assert [s["id"] for s in inner.find_all("section")] == ["verdict", "calibration"]
    assert [a["href"] for a in inner.select("nav.toc a")] == ["about:srcdoc#verdict", "about:srcdoc#calibration"]


@pytest.mark.parametrize("height", [0, -3, True, float("nan"), "", "abc; color:red", "80vh; x"])
def test_show_refuses_a_bad_height(result, height):
    with pytest.raises(ValueError, match="height must be a positive number"):
        result.show(height=height)


@pytest.mark.parametrize("height, css", [(np.int64(300), "300px"), (np.float32(250.5), "250.5px"), (480, "480px")])
def test_show_takes_numpy_numbers_for_the_height(result, height, css):
    frame = BeautifulSoup(result.show(height=height)._repr_html_(), "html.parser").find("iframe")
    assert f"height: {css}" in frame["style"]


def test_show_refuses_an_empty_or_non_iterable_sections_argument(result):
    with pytest.raises(ValueError, match=r"^sections must name at least one section \(None shows them all\); "
                                         r"known: verdict, "):
        result.show(sections=[])
    with pytest.raises(TypeError, match=r"^sections must be a section id or a list of them .*; got int$"):
        result.show(sections=5)
    assert result.show(sections="verdict").sections == frozenset({"verdict"})


def test_misspelt_keywords_of_the_result_methods_name_the_closest(result, tmp_path):
    with pytest.raises(TypeError, match=r"^save_html\(\) got an unexpected keyword argument 'pth'; did you mean 'path'"):
        result.save_html(pth=tmp_path / "r.html")
    with pytest.raises(TypeError, match=r"did you mean 'out_dir'"):
        result.save(outdir=tmp_path)
    with pytest.raises(TypeError, match=r"did you mean 'saved'"):
        result.record(tmp_path / "h.sqlite", save=None)
    assert list(tmp_path.iterdir()) == []


def test_show_refuses_an_unknown_section_naming_the_closest(result):
    with pytest.raises(ValueError, match="did you mean 'calibration'"):
        result.show(sections=["calibraton"])


def test_reprs_are_short(result):
    probs, labels = arrays()
    images = np.zeros((150, 32, 32, 3), dtype=np.uint8)
    pred = audit.make_predictions(labels, probs, NAMES, images=images)
    assert repr(pred) == "<Predictions: N = 150, 3 classes (cat, dog, bird); images 32×32×3>"
    assert repr(result).startswith("<AuditResult 'my-model': N = 150") and "\n" not in repr(result)


# -- the verdict again, in memory ---------------------------------------------------------------------------


def test_regate_in_memory(result):
    strict = {"accuracy": {"min": 0.99}}
    again = result.regate(strict)
    assert again.rules.set_index("name").loc["min_accuracy", "passed"] == False  # noqa: E712
    assert again.data["gate"]["policy_source"] == "policy (in memory)"
    assert result.data["gate"] is not again.data["gate"]  # the original is left unchanged
    outcome = audit.regate(result.data, policy=strict)
    assert outcome.written == {} and outcome.gate == again.gate


def test_regate_with_new_answers_reevaluates_the_crosswalk(result):
    """The crosswalk reads the checklist and the gate: re-judged with new answers, it is re-evaluated too."""
    from audit.gate.crosswalk import crosswalk_section

    answers = {"answer": [{"id": "bias-1", "status": "yes", "answered_by": "A. Reviewer", "answered_on": "2026-12-05"}]}
    again = result.regate({}, checklist=answers)
    assert again.data["crosswalk"] == crosswalk_section(again.data)
    assert again.data["crosswalk"] != result.data["crosswalk"]


def test_policy_mapping_is_validated_as_a_file(result):
    with pytest.raises(audit.AuditError, match=r"unknown key 'accuracy.mn' \(did you mean 'accuracy.min'\?\)"):
        result.regate({"accuracy": {"mn": 0.9}})
    with pytest.raises(audit.AuditError, match=r"key 'accuracy.min' must be in \[0, 1\]; got 2"):
        audit.load_policy({"accuracy": {"min": 2}})


def test_checklist_mapping_is_validated_as_a_file():
    probs, labels = arrays()
    pred = audit.make_predictions(labels, probs, NAMES)
    answers = {"answer": [{"id": "consent-1", "status": "yes", "evidence": "signed forms",
                           "answered_by": "A. Reviewer", "answered_on": "2024-05-31"}],
               "model_card": {"intended_use": "sorting pet photos"}}
    result = audit.run_audit(pred, n_bootstrap=0, checklist=answers)
    item = next(i for i in result.data["checklist"]["items"] if i["id"] == "consent-1")
    assert item["status"] == "yes"
    with pytest.raises(audit.AuditError, match="checklist \\(in memory\\): item 'consent-1': invalid status"):
        audit.load_checklist({"answer": [{**answers["answer"][0], "status": "maybe"}]})


# -- friendly inputs ----------------------------------------------------------------------------------------


def test_dataframes_and_class_name_labels():
    probs, labels = arrays()
    region = np.asarray(["north", "south"])[np.arange(150) % 2]
    frame = audit.make_predictions(labels=np.asarray(NAMES)[labels], probs=pd.DataFrame(probs, columns=NAMES),
                                   groups=pd.DataFrame({"region": region}))
    plain = audit.make_predictions(labels, probs, NAMES, groups={"region": region})
    assert frame.class_names == tuple(NAMES)
    assert (frame.labels == plain.labels).all() and (frame.groups["region"] == plain.groups["region"]).all()


def test_dataframe_columns_must_agree_with_class_names():
    probs, labels = arrays()
    with pytest.raises(audit.AuditError) as err:
        audit.make_predictions(labels, pd.DataFrame(probs, columns=NAMES), ["a", "b", "c"])
    assert err.value.message == MSG_PROB_COLUMNS.format(given=["a", "b", "c"], columns=NAMES)


def test_groups_of_the_wrong_kind():
    probs, labels = arrays()
    with pytest.raises(audit.AuditError) as err:
        audit.make_predictions(labels, probs, NAMES, groups=["north"] * 150)
    assert err.value.message == MSG_GROUPS_TYPE.format(kind="list")


def test_misspelt_keyword_names_the_closest():
    probs, labels = arrays()
    pred = audit.make_predictions(labels, probs, NAMES)
    with pytest.raises(TypeError, match=r"run_audit\(\) got an unexpected keyword argument 'group_col'; "
                                        r"did you mean 'group_cols'\?"):
        audit.run_audit(pred, group_col=["region"])
    with pytest.raises(TypeError, match="did you mean 'class_names'"):
        audit.make_predictions(labels, probs, class_name=NAMES)


@pytest.mark.parametrize(("keyword", "value", "expected"), [
    ("n_bootstrap", -5, "an integer ≥ 0"), ("n_bootstrap", 2.5, "an integer ≥ 0"), ("seed", -1, "an integer ≥ 0"),
    ("seed", True, "an integer ≥ 0"), ("chunk_rows", 0, "an integer ≥ 1"),
])
def test_numeric_arguments_are_validated(keyword, value, expected):
    probs, labels = arrays()
    pred = audit.make_predictions(labels, probs, NAMES)
    with pytest.raises(audit.AuditError) as err:
        audit.run_audit(pred, **{keyword: value})
    assert err.value.message == MSG_NUMBER.format(name=keyword, expected=expected, value=value)


def test_name_names_the_model_for_the_history():
    probs, labels = arrays()
    result = audit.run_audit(audit.make_predictions(labels, probs, NAMES), n_bootstrap=0, name="resnet-v2")
    assert result.data["run"]["name"] == result.data["run"]["model_name"] == "resnet-v2"
    with pytest.raises(audit.AuditError, match="name must be a non-empty string"):
        audit.run_audit(audit.make_predictions(labels, probs, NAMES), name=" ")


def test_py_typed_is_shipped():
    """In the source tree; tests/test_packaging.py checks that the built wheel holds it too."""
    assert importlib.resources.files("audit").joinpath("py.typed").is_file()


def test_nullable_and_arrow_float_columns_and_a_one_column_label_frame_are_accepted():
    import pandas as pd

    probs, labels = arrays()
    frame = pd.DataFrame(probs, columns=NAMES)
    plain = audit.make_predictions(probs=frame, labels=labels)
    for dtype in ("Float64", "float64[pyarrow]"):
        typed = audit.make_predictions(probs=frame.astype(dtype), labels=pd.DataFrame({"y": labels}))
        assert np.array_equal(typed.probs, plain.probs) and np.array_equal(typed.labels, plain.labels)
    holed = frame.astype("Float64")
    holed.iloc[3, 1] = pd.NA
    with pytest.raises(audit.AuditError, match=r"NaN or infinity \(1 value\(s\), first in row 3\)"):
        audit.make_predictions(probs=holed, labels=labels)
    with pytest.raises(audit.AuditError, match=r"labels must be one column"):
        audit.make_predictions(probs=frame, labels=pd.DataFrame({"y": labels, "z": labels}))


def test_per_class_view_of_a_result_without_classes_is_empty_not_an_error(result):
    bare = audit.AuditResult({**result.data, "per_class": []})
    assert bare.per_class.empty and list(bare.per_class.columns)[:3] == ["support", "errors", "error_rate"]


# -- views and entry points with real data (review finding 14) ----------------------------------------------


def _colour_model(batch: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> probabilities from each image's mean colour (the image fixtures' class signal)."""
    means = batch.reshape(len(batch), -1, 3).mean(axis=1) / 255
    p = np.exp(8 * means)
    return p / p.sum(axis=1, keepdims=True)


def test_robustness_view_of_a_real_robustness_section(tmp_path):
    from helpers.image_fixtures import write_image_folder

    data = write_image_folder(tmp_path / "imgs", per_class=6, odd_sizes=False)
    source = audit.model_source(_colour_model, data, class_names=["bird", "cat", "dog"], thumbnails=False)
    settings = audit.RobustnessSettings(("fog", "contrast"), (1, 3), 9, None, True)
    result = audit.run_audit(source, n_bootstrap=0, robustness=settings, notify=lambda line: None)
    cells = result.data["robustness"]["cells"]
    view = result.robustness
    assert sorted(view.index) == ["contrast", "fog"] and list(view.columns) == [1, 3]
    assert len(cells) == 4
    for c in cells:
        assert view.loc[c["corruption"], c["severity"]] == c["accuracy"]
    assert view.dtypes.map(pd.api.types.is_float_dtype).all()


def test_run_audit_takes_a_policy_mapping_directly():
    probs, labels = arrays()
    pred = audit.make_predictions(labels, probs, NAMES)
    result = audit.run_audit(pred, n_bootstrap=0, policy={"accuracy": {"min": 0.99}, "calibration": {"enabled": False}})
    assert result.gate["informational"] is False and result.gate["policy_source"] == "policy (in memory)"
    rules = result.rules.set_index("name")
    assert rules.loc["min_accuracy", "threshold"] == 0.99 and not rules.loc["min_accuracy", "passed"]
    assert "max_ece" not in rules.index  # a section the mapping turns off
    assert "max_class_error_rate[cat]" in rules.index  # sections left out take the defaults, as in a file
    default = audit.run_audit(pred, n_bootstrap=0, policy={})
    assert [r["name"] for r in default.gate["rules"]] == \
           [r["name"] for r in audit.run_audit(pred, n_bootstrap=0).gate["rules"]]


def test_regate_takes_an_audit_result_object(result):
    strict = {"accuracy": {"min": 0.99}}
    outcome = audit.regate(result, policy=strict)  # the object itself, not its .data
    assert outcome.written == {} and outcome.record["audit_json"] == "audit result (in memory)"
    assert outcome.gate == audit.regate(result.data, policy=strict).gate
    assert not outcome.passed and outcome.data is not result.data and result.gate["informational"] is True
