"""``audit run`` with the robustness options, on a tiny trained seed network (one epoch, 100 images)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.cifar_fixtures import write_dataset
from helpers.hardening_helpers import run_main, write_predictions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from audit.model.data import load_cifar10
    from audit.model.train import train

    root = tmp_path_factory.mktemp("robust-cli")
    data = write_dataset(root / "data", per_file=20, test=20)
    train(load_cifar10(data), epochs=1, limit=100, seed=1, out_dir=root / "model", verbose=0)
    return root, data, root / "model"


def audit(tiny, out, *extra):
    root, data, model = tiny
    code = run_main("run", "--data", data, "--model", model, "--out", root / out, "--bootstrap", "0",
                    "--reproducible", *extra)
    return code, root / out


def test_summary_md_and_the_terminal_of_a_model_audit_carry_robustness_and_review(tiny, capsys):
    code, out = audit(tiny, "s", "--corruptions", "fog,contrast", "--severities", "1,3",
                      "--corruption-samples", "10", "--no-record")
    assert code == 0
    result = json.loads((out / "audit.json").read_text())
    section = result["robustness"]
    worst = min(section["by_corruption"], key=lambda r: r["accuracy"])
    summary = (out / "summary.md").read_text()
    assert f"- **Robustness** mean accuracy under corruption {100 * section['mean_accuracy']:.1f}% over 4 cells" \
        in summary and f"worst corruption {worst['corruption'].replace('_', chr(92) + '_')}" in summary
    assert "- **Human review** " in summary
    terminal = capsys.readouterr().out
    assert f"robustness        mean accuracy under corruption {100 * section['mean_accuracy']:.1f}%" in terminal
    assert f"worst {worst['corruption']} {100 * worst['accuracy']:.1f}%" in terminal
    assert "human review      " in terminal
    header = (out / "report.html").read_text().split('id="model-card"')[0]
    assert "Under corruption" in header and "Human review" in header


def test_selected_cells_in_audit_json_and_report(tiny):
    code, out = audit(tiny, "a", "--corruptions", "fog,contrast", "--severities", "1,3",
                      "--corruption-samples", "10")
    assert code == 0
    section = json.loads((out / "audit.json").read_text())["robustness"]
    assert [(c["corruption"], c["severity"], c["n"]) for c in section["cells"]] == [
        ("fog", 1, 10), ("fog", 3, 10), ("contrast", 1, 10), ("contrast", 3, 10)]
    assert section["source"] == "generated" and section["clean"]["n"] == 10
    html = (out / "report.html").read_text()
    assert 'id="robustness"' in html and "Classes that break first" in html
    gate = json.loads((out / "audit.json").read_text())["gate"]
    assert any(r["name"] == "robustness_max_relative_drop[fog]" for r in gate["rules"])


def test_default_runs_the_suite_and_none_turns_it_off(tiny):
    code, out = audit(tiny, "b", "--corruptions", "none")
    assert code == 0 and "robustness" not in json.loads((out / "audit.json").read_text())
    code, out = audit(tiny, "c", "--severities", "2", "--corruption-samples", "all", "--no-images")
    section = json.loads((out / "audit.json").read_text())["robustness"]
    assert code == 0 and len(section["cells"]) == 15 and section["cells"][0]["n"] == 20
    assert section["examples"] is None


def test_released_files(tiny, tmp_path):
    from audit.model.data import load_cifar10

    _, data, _ = tiny
    test = load_cifar10(data)
    folder = tmp_path / "CIFAR-10-C"
    folder.mkdir()
    np.save(folder / "snow.npy", np.concatenate([test.x_test] * 5))
    np.save(folder / "labels.npy", np.tile(test.y_test, 5).astype(np.uint8))
    code, out = audit(tiny, "d", "--corruptions", "snow", "--corruption-data", folder, "--corruption-samples", "all")
    section = json.loads((out / "audit.json").read_text())["robustness"]
    assert code == 0 and section["source"] == "released"
    # the released "snow" here is the clean test set: every cell equals clean
    assert all(c["accuracy"] == section["clean"]["accuracy"] for c in section["cells"])


@pytest.mark.parametrize("args, fragment", [
    (("--corruptions", "fogg"), "did you mean 'fog'"),
    (("--severities", "0,6"), "severities must lie in 1-5"),
    (("--corruption-samples", "0"), "positive integer or 'all'"),
])
def test_bad_options_are_usage_errors(tiny, capfd, args, fragment):
    code, out = audit(tiny, "e", *args)
    assert code == 2 and fragment in capfd.readouterr().err and not out.exists()


def test_missing_released_folder_fails_before_writing(tiny, capfd):
    code, out = audit(tiny, "f", "--corruption-data", tiny[0] / "absent")
    err = capfd.readouterr().err
    assert code == 2 and "--corruption-data folder not found" in err and not out.exists()


def test_predictions_audits_refuse_corruptions(tmp_path, capfd):
    preds = write_predictions(tmp_path / "p.npz")
    code = run_main("run", "--predictions", preds, "--out", tmp_path / "out", "--corruptions", "fog")
    assert code == 2 and "need the model in the loop" in capfd.readouterr().err
    assert run_main("run", "--predictions", preds, "--out", tmp_path / "out2", "--corruptions", "none",
                    "--bootstrap", "0") == 0
