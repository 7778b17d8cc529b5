"""One declaration of audit.json (audit.result.schema) holds the engine's output, every hand-written test
fixture, the golden files and docs/audit-json.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers.gate_fixtures import make_result, with_baseline
from helpers.golden import EXPECTED
from helpers.sample_result import hostile_result, sample_result

import audit
from audit.result.schema import SCHEMA_VERSION, AuditJSON, GateRecord, conformance_errors, section_keys

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit-json.md"


def small_predictions(n=120, k=4, seed=0, images=False):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    labels = np.where(rng.random(n) < 0.6, probs.argmax(axis=1), rng.integers(0, k, n))
    return audit.make_predictions(
        probs=probs, labels=labels, class_names=[f"c{i}" for i in range(k)],
        groups={"site": np.asarray(["a", "b", "c"])[rng.integers(0, 3, n)]},
        sample_ids=[f"s{i}" for i in range(n)],
        images=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8) if images else None)


@pytest.mark.parametrize("images", [False, True])
def test_the_engine_output_conforms(images):
    result = audit.run_audit(small_predictions(images=images), checklist=None, n_bootstrap=10)
    assert conformance_errors(result.to_dict()) == []
    assert result.data["schema_version"] == SCHEMA_VERSION


def test_a_result_with_baseline_and_checklist_conforms(tmp_path):
    first = audit.run_audit(small_predictions(), n_bootstrap=0, reproducible=True)
    second = audit.run_audit(small_predictions(), n_bootstrap=0, baseline=first, reproducible=True)
    assert second.data["baseline"]["kind"] == "audit.json"
    current = small_predictions()
    previous = audit.make_predictions(probs=np.roll(current.probs, 1, axis=1), labels=current.labels,
                                      class_names=current.class_names, sample_ids=current.sample_ids)
    paired = audit.run_audit(current, n_bootstrap=0, baseline=previous)
    assert paired.data["baseline"]["kind"] == "predictions"
    for result in (second, paired):
        assert conformance_errors(result.to_dict()) == []


def test_the_streamed_engine_output_conforms(tmp_path):
    from audit.sources import save_npz

    path = save_npz(tmp_path / "p.npz", small_predictions())
    result = audit.run_audit(path, stream=True, chunk_rows=50, n_bootstrap=5)
    assert conformance_errors(result.to_dict()) == []


@pytest.mark.parametrize("fixture", [sample_result, hostile_result, make_result,
                                     lambda: with_baseline(make_result()),
                                     lambda: with_baseline(make_result(), p_value=0.03)])
def test_hand_written_fixtures_conform(fixture):
    assert conformance_errors(fixture()) == []


@pytest.mark.parametrize("path", sorted(EXPECTED.glob("*/audit.json")), ids=lambda p: p.parent.name)
def test_golden_audit_json_conforms(path):
    assert conformance_errors(json.loads(path.read_text(encoding="utf-8"))) == []


def test_golden_gate_json_conforms():
    record = json.loads((EXPECTED / "gate" / "gate.json").read_text(encoding="utf-8"))
    assert conformance_errors(record, GateRecord) == []


def test_a_departure_is_named_by_its_key_path():
    bad = make_result()
    bad["per_class"][1]["support"] = "100"
    bad["overall"]["surprise"] = 1
    del bad["calibration"]["ece"]
    errors = conformance_errors(bad)
    assert "per_class[1].support: expected an integer, got str" in errors
    assert "overall: undeclared key 'surprise'" in errors
    assert "calibration: missing key 'ece'" in errors


def doc_sections() -> dict[str, str]:
    """docs/audit-json.md's key listing: top-level key -> the text of its entry."""
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index("```text") + len("```text"):]
    block = block[: block.index("```")]
    sections: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        match = re.match(r"^([a-z_]+)(\[\])?\s", line)
        if match:
            current = match.group(1)
            sections[current] = line
        elif current:
            sections[current] += "\n" + line
    return sections


def test_the_document_lists_every_top_level_key_and_no_other():
    assert set(doc_sections()) == section_keys(AuditJSON)[""]


def test_the_document_names_every_declared_key_in_its_section():
    sections = doc_sections()
    missing = []
    for path, keys in section_keys(AuditJSON).items():
        if not path:
            continue
        top = re.match(r"[a-z_]+", path).group(0)
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sections[top]))
        missing += [f"{path}.{key}" for key in sorted(keys) if key not in words]
    assert missing == []


def test_the_document_states_the_schema_version():
    assert f"schema version {SCHEMA_VERSION}" in DOC.read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize("thumbnails", [True, False])
def test_the_robustness_section_conforms(thumbnails):
    from audit.metrics.slices import image_slices
    from audit.result.schema import Robustness
    from audit.robustness.evaluate import evaluate_robustness

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), np.arange(40) % 2

    def predict(batch):
        p = np.clip(batch.reshape(len(batch), -1).mean(axis=1) / 255.0, 0.01, 0.99)
        return np.stack([p, 1 - p], axis=1)

    section = evaluate_robustness(
        predict, images, labels, ["a", "b"], corruptions=("fog", "contrast"), severities=(1, 2), n_samples=None,
        seed=0, temperature=1.2, clean_probs=predict(images), released=None, sample_ids=None,
        groups={s["name"]: (s["labels"], True) for s in image_slices(images)}, thumbnails=thumbnails)
    assert conformance_errors(section, Robustness) == []
