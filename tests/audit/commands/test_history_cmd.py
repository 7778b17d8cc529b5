"""`audit run` recording, `audit history`, `audit history show`, `audit release`, `audit db upgrade`,
`audit gate` recording and `--baseline released|ID`, end to end through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bs4 import BeautifulSoup

from audit.history import HistoryStore
from helpers.hardening_helpers import run_main, write_predictions

LENIENT = """\
[accuracy]
min = 0.10
use = "point"
[class_error]
enabled = false
[calibration]
enabled = false
[disparity]
enabled = false
[checklist]
enabled = false
[selective]
enabled = false
[model_card]
enabled = false
[baseline]
enabled = false
"""


def _run(tmp_path, preds, out, *extra):
    return run_main("run", "--predictions", preds, "--out", tmp_path / out, "--bootstrap", "0", *extra)


def _second_model(first, path):
    """Predictions of another model on the same test set: same labels and ids, other probabilities."""
    data = dict(np.load(first))
    rng = np.random.default_rng(7)
    data["probs"] = rng.dirichlet(np.ones(3), size=len(data["labels"]))
    np.savez(path, **data)
    return path


@pytest.fixture
def preds(tmp_path):
    return write_predictions(tmp_path / "model-a.npz", n=120)


def test_run_records_every_run_unless_no_record(tmp_path, preds, history_url, capsys):
    assert _run(tmp_path, preds, "o1", "--db", history_url) == 0
    assert "recorded: run #1 in " in capsys.readouterr().out
    assert _run(tmp_path, preds, "o2", "--db", history_url, "--no-record") == 0
    assert _run(tmp_path, preds, "o3", "--db", history_url) == 0
    runs = HistoryStore(history_url).list_runs()
    assert [r.id for r in runs] == [2, 1]
    stored = json.loads((tmp_path / "o3" / "audit.json").read_text())
    assert runs[0].metrics["accuracy"] == stored["overall"]["accuracy"]
    assert runs[0].metrics["ece_before"] == stored["calibration"]["ece"]
    assert runs[0].metrics["ece_after"] == stored["calibration"]["after_scaling"]["ece"]
    assert runs[0].metrics["worst_class_error"] == max(c["error_rate"] for c in stored["per_class"])
    assert runs[0].metrics["largest_disparity"] == max(d["difference"] for d in stored["disparity"])


def test_history_lists_newest_first_as_table_and_json(tmp_path, preds, capsys):
    for out in ("o1", "o2"):
        assert _run(tmp_path, preds, out) == 0
    assert _run(tmp_path, write_predictions(tmp_path / "model-b.npz", n=60), "o3") == 0
    capsys.readouterr()
    assert run_main("history") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "time", "model", "accuracy", "ECE", "verdict", "released"]
    assert [line.split()[0] for line in lines[1:]] == ["3", "2", "1"]
    assert run_main("history", "--model", "model-a", "--limit", "1", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["model_name"], r["released"]) for r in listed] == [(2, "model-a", False)]
    assert run_main("history", "show", "2", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    on_disk = json.loads((tmp_path / "o2" / "audit.json").read_text())
    assert shown["result"]["overall"] == on_disk["overall"] and "mistakes" not in shown["result"]
    assert on_disk["mistakes"]  # the report keeps them; the database does not
    assert run_main("history", "show", "2") == 0
    assert "run #2  model-a" in capsys.readouterr().out


def test_release_and_baseline_released_end_to_end(tmp_path, preds, capsys):
    policy = tmp_path / "lenient.toml"
    policy.write_text(LENIENT)
    assert _run(tmp_path, preds, "o1") == 0  # informational verdict: the default policy fails (no checklist)
    capsys.readouterr()
    assert _run(tmp_path, preds, "ox", "--baseline", "released") == 2
    assert "no released run of model 'model-a'" in capsys.readouterr().err
    assert run_main("release", "1") == 2
    err = capsys.readouterr().err
    assert "run #1 failed its informational gate" in err and "--force REASON" in err
    # the team's own policy, re-evaluated with `audit gate`, is recorded against run #1 and clears it
    assert run_main("gate", tmp_path / "o1" / "audit.json", "--policy", policy) == 0
    assert "recorded against history run #1" in capsys.readouterr().err
    assert run_main("release", "1") == 0
    assert "released run #1 (model-a)" in capsys.readouterr().out
    (tmp_path / "v2").mkdir()
    second = _second_model(preds, tmp_path / "v2" / "model-a.npz")  # same model name, new version
    assert _run(tmp_path, second, "o2", "--baseline", "released") == 0
    first = json.loads((tmp_path / "o1" / "audit.json").read_text())
    now = json.loads((tmp_path / "o2" / "audit.json").read_text())
    base = now["baseline"]
    assert base["kind"] == "audit.json" and base["source"] == "history run #1 (last released run of model-a)"
    assert base["overall"]["accuracy_before"] == first["overall"]["accuracy"]
    assert base["overall"]["accuracy_after"] == now["overall"]["accuracy"]
    assert [c["recall_before"] for c in base["per_class"]] == [c["recall"] for c in first["per_class"]]


def test_forced_release_stores_its_reason(tmp_path, preds, capsys):
    assert _run(tmp_path, preds, "o1") == 0
    assert run_main("release", "1", "--force", "checklist signed on paper, ticket 42") == 0
    assert "despite its failed gate" in capsys.readouterr().out
    assert run_main("history", "show", "1", "--json") == 0
    record = json.loads(capsys.readouterr().out)["record"]
    assert record["release_forced"] and record["release_reason"] == "checklist signed on paper, ticket 42"


def test_gate_verdict_and_baseline_by_id(tmp_path, preds, capsys):
    policy = tmp_path / "lenient.toml"
    policy.write_text(LENIENT)
    assert _run(tmp_path, preds, "o1", "--policy", policy) == 0
    assert _run(tmp_path, preds, "o2", "--baseline", "1") == 0
    first = json.loads((tmp_path / "o1" / "audit.json").read_text())
    now = json.loads((tmp_path / "o2" / "audit.json").read_text())
    assert now["baseline"]["source"].startswith("history run #1 ")
    assert now["baseline"]["overall"]["accuracy_before"] == first["overall"]["accuracy"]
    assert now["baseline"]["overall"]["delta"] == 0


def test_trends_in_the_report_mark_released_runs(tmp_path, preds, capsys):
    policy = tmp_path / "lenient.toml"
    policy.write_text(LENIENT)
    for out in ("o1", "o2"):
        assert _run(tmp_path, preds, out, "--policy", policy) == 0
    assert run_main("release", "1") == 0
    assert _run(tmp_path, preds, "o3", "--policy", policy) == 0
    soup = BeautifulSoup((tmp_path / "o3" / "report.html").read_text(), "html.parser")
    section = soup.find("section", id="trends")
    rows = section.find("table", id="trends-table").find("tbody").find_all("tr")
    assert [r.th.get_text() for r in rows] == ["#1", "#2", "this run"]
    assert "released" in rows[0].get_text() and rows[0].get("class") == ["released"]
    acc = json.loads((tmp_path / "o3" / "audit.json").read_text())["overall"]["accuracy"]
    assert rows[2].find_all("td")[1].get_text() == f"{100 * acc:.2f}%"
    assert len(section.find_all("svg")) == 7  # one chart per key metric measured (review load; no robustness here)
    assert len(section.find_all("path", class_="released")) >= 1
    assert "trends" not in json.loads((tmp_path / "o3" / "audit.json").read_text())
