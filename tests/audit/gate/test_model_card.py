"""The model card the team writes in the checklist answers file: template round trip, unknown and
mistyped fields, the policy rule, and the report (escaped, paragraphs kept)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from helpers.gate_fixtures import make_result, write_result

from audit.cli import app
from audit.errors import AuditError
from audit.gate import checklist as ck
from audit.gate.model_card import FIELDS, model_card_section
from audit.gate.policy import default_policy
from audit.gate.verdict import evaluate
from audit.render.html import render_html


def write(tmp_path, text):
    path = tmp_path / "answers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def filled_template(**values) -> str:
    text = ck.template_text()
    for field, value in values.items():
        text = text.replace(f'\n{field} = ""\n', f"\n{field} = {json.dumps(value, ensure_ascii=False)}\n", 1)
    return text


def test_template_round_trip(tmp_path):
    """`audit checklist init`'s file loads as an empty card; each field written comes back as written."""
    empty = model_card_section(ck.load_checklist(write(tmp_path, ck.template_text())))
    assert empty["fields"] == dict.fromkeys(FIELDS) and empty["empty"] == list(FIELDS)
    values = {field: f"{field}: text with ünïcode ✓" for field in FIELDS}
    card = model_card_section(ck.load_checklist(write(tmp_path, filled_template(**values))))
    assert card["fields"] == values and card["empty"] == [] and card["source"].endswith("answers.toml")


def test_unknown_field_names_the_line_and_the_allowed_fields(tmp_path):
    text = ck.template_text().replace('\ncontact = ""\n', '\ncontact = ""\nintended_users = "x"\n')
    line = text.splitlines().index('intended_users = "x"') + 1
    with pytest.raises(AuditError) as err:
        ck.load_checklist(write(tmp_path, text))
    assert str(err.value).startswith(f"{tmp_path / 'answers.toml'}: line {line}: [model_card]: unknown field "
                                     "'intended_users'; allowed fields: developers, version")


def test_non_text_field_is_an_error(tmp_path):
    text = ck.template_text().replace('\nversion = ""\n', "\nversion = 2\n")
    with pytest.raises(AuditError, match=r"\[model_card\]: 'version' must be a string .* got 2"):
        ck.load_checklist(write(tmp_path, text))


def test_empty_required_field_fails_the_rule_until_written(tmp_path):
    result = make_result()
    required = default_policy().model_card.required_fields
    values = {field: "written" for field in FIELDS}
    values["intended_use"] = "   "  # blank is empty
    result["model_card"] = model_card_section(ck.load_checklist(write(tmp_path, filled_template(**values))))
    rule = next(r for r in evaluate(result, default_policy(), informational=False)["rules"]
                if r["name"] == "model_card_complete")
    assert not rule["passed"] and rule["value"] == 1 and "intended_use" in rule["reason"]
    values["intended_use"] = "Sorting product photos into catalogue categories."
    result["model_card"] = model_card_section(ck.load_checklist(write(tmp_path, filled_template(**values))))
    gate = evaluate(result, default_policy(), informational=False)
    assert gate["passed"] and f"all {len(required)} required" in gate["rules"][-1]["reason"]


def test_no_model_card_fails_closed_and_optional_fields_do_not_count():
    result = make_result()
    del result["model_card"]
    rule = evaluate(result, default_policy(), informational=False)["rules"][-1]
    assert rule["name"] == "model_card_complete" and not rule["passed"] and "failing closed" in rule["reason"]
    result["model_card"] = {"fields": {"developers": "us"}}
    policy = dataclasses.replace(default_policy(), model_card=dataclasses.replace(
        default_policy().model_card, required_fields=("developers",)))
    assert evaluate(result, policy, informational=False)["rules"][-1]["passed"]


def test_report_escapes_text_and_keeps_paragraphs(tmp_path):
    result = make_result()
    text = "First paragraph <script>alert(1)</script>\nsame paragraph.\n\nSecond & last."
    result["model_card"] = {"fields": dict.fromkeys(FIELDS) | {"intended_use": text}, "source": "a.toml"}
    html = render_html(result)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    card = BeautifulSoup(html, "html.parser").find(id="model-card")
    paragraphs = [p.get_text() for p in card.find_all("p", class_="card-text")]
    assert paragraphs == ["First paragraph <script>alert(1)</script>\nsame paragraph.", "Second & last."]
    assert card.get_text().count("To be written by the team.") >= len(FIELDS) - 1


def test_gate_reads_the_card_from_an_updated_checklist(tmp_path):
    """`audit gate --checklist` replaces both the checklist and the model card stored in audit.json."""
    result = make_result()
    result["model_card"] = model_card_section(None)
    audit_json = write_result(tmp_path / "audit.json", result)
    policy = tmp_path / "policy.toml"
    policy.write_text("[checklist]\nenabled = false\n[baseline]\nenabled = false\n", encoding="utf-8")
    failed = CliRunner().invoke(app, ["gate", str(audit_json), "--policy", str(policy)])
    assert failed.exit_code == 1 and "FAIL  model_card_complete" in failed.output
    answers = write(tmp_path, filled_template(**{field: "written" for field in FIELDS}))
    passed = CliRunner().invoke(app, ["gate", str(audit_json), "--policy", str(policy), "--checklist", str(answers)])
    assert passed.exit_code == 0, passed.output
