"""The model card fields the team writes (the ``[model_card]`` table of the checklist answers file),
and the ``model_card`` section of the audit result.

Fields follow Mitchell et al. 2019, *Model Cards for Model Reporting*; what the audit measures
(metrics, evaluation data hashes, groupings) is filled in by the report itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from audit.errors import AuditError

#: field -> what the team writes there (the template's comments and the report's labels).
FIELDS: dict[str, str] = {
    "developers": "who built the model (people or team)",
    "version": "the model's version or release tag",
    "licence": "the licence the model is released under",
    "contact": "where to send questions and reports of problems",
    "intended_use": "the primary uses and users",
    "out_of_scope_uses": "uses the model is not for (e.g. identifying or tracking people)",
    "factors": "groups, conditions and environments that matter for the people affected",
    "evaluation_data": "how the evaluation data were collected and why they represent the use",
    "training_data": "what the model was trained on",
    "ethical_considerations": "risks and harms considered, and what was done about them",
    "caveats": "caveats and recommendations for users",
}

MSG_NOT_TABLE = "line {line}: 'model_card' must be a table written as [model_card]; got {kind}"
MSG_UNKNOWN = "line {line}: [model_card]: unknown field {field!r}; allowed fields: {allowed}"
MSG_NOT_TEXT = "line {line}: [model_card]: {field!r} must be a string (text, may span lines); got {value!r}"


def _line(lines: list[str], key: str) -> int:
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    start = next((i for i, s in enumerate(lines) if re.match(r"^\s*\[\s*model_card\s*\]", s)), 0)
    for i in range(start, len(lines)):
        if pattern.match(lines[i]):
            return i + 1
    return start + 1


def parse_model_card(table: Any, lines: list[str], path: Path) -> dict[str, str | None]:
    """Check the ``[model_card]`` table of an answers file; every field, None where empty or absent.

    Raises
    ------
    AuditError
        Naming the file and the line, for a field that is not a model-card field or not text.
    """
    if table is None:
        return dict.fromkeys(FIELDS)
    if not isinstance(table, dict):
        raise AuditError(MSG_NOT_TABLE.format(line=_line(lines, "model_card"), kind=type(table).__name__),
                         path=path)
    for field, value in table.items():
        if field not in FIELDS:
            raise AuditError(MSG_UNKNOWN.format(line=_line(lines, field), field=field,
                                                allowed=", ".join(FIELDS)), path=path)
        if not isinstance(value, str):
            raise AuditError(MSG_NOT_TEXT.format(line=_line(lines, field), field=field, value=value), path=path)
    return {field: (str(table.get(field) or "").strip() or None) for field in FIELDS}


def model_card_section(answers: dict[str, Any] | None) -> dict[str, Any]:
    """The ``model_card`` section of the audit result.

    Parameters
    ----------
    answers : dict or None
        What :func:`audit.gate.checklist.load_checklist` returned, or None (every field empty).

    Returns
    -------
    dict
        ``{"fields": {field: text | None}, "source": str | None, "empty": [fields still empty]}``.
    """
    fields = (answers or {}).get("model_card") or dict.fromkeys(FIELDS)
    fields = {field: fields.get(field) for field in FIELDS}
    return {"fields": fields, "source": (answers or {}).get("source"),
            "empty": [field for field, text in fields.items() if not text]}
