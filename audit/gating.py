"""The verdict again, without recomputing a metric: a stored or in-memory result judged against a policy
(``audit gate``, :func:`audit.regate`, :meth:`audit.AuditResult.regate`), and the one place that turns a
``policy=`` or ``checklist=`` argument (path, mapping or loaded object) into what the gate reads."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from audit.errors import check_keywords

#: ``audit_json`` of the gate record when the result was given in memory.
IN_MEMORY = "audit result (in memory)"
MSG_ARGUMENT_TYPE = "{name} must be {accepted}; got {kind}"
POLICY_TYPES = "a path, a mapping with the policy file's structure or a Policy"
CHECKLIST_TYPES = "a path, a mapping with the answers file's structure or what audit.load_checklist returns"


def check_type(name: str, value, accepted: str, *types) -> None:
    """Refuse ``value`` by name (:class:`TypeError` listing the ``accepted`` kinds) unless it is one of
    ``types``; a path is ``str`` or :class:`os.PathLike` (never ``bytes``)."""
    if not isinstance(value, (str, os.PathLike, *types)):
        raise TypeError(MSG_ARGUMENT_TYPE.format(name=name, accepted=accepted, kind=type(value).__name__))


@dataclass
class GateOutcome:
    """What ``audit gate`` decided: the verdict, the record written as gate.json, the files it wrote (none for
    a result given in memory without ``out_dir``) and the re-judged result mapping."""

    gate: dict
    record: dict
    written: dict[str, Path]
    data: dict | None = None

    @property
    def passed(self) -> bool:
        return bool(self.gate["passed"])


def resolve_policy(policy) -> tuple[Any, bool]:
    """(Policy, informational) from a Policy, a path, a mapping with the file's structure, or None (the
    default policy, informational)."""
    from audit.gate.policy import Policy, default_policy, load_policy

    if policy is None:
        return default_policy(), True
    if isinstance(policy, Policy):
        return policy, False
    check_type("policy", policy, POLICY_TYPES, Mapping)
    return load_policy(policy), False


def checklist_answers(checklist) -> Mapping | None:
    """The answers the gate reads, from a path, a mapping with the file's structure (``answer``,
    ``model_card``), the mapping :func:`audit.load_checklist` returns, or None.

    Only the object :func:`audit.load_checklist` returned (a :class:`~audit.gate.checklist.LoadedChecklist`)
    counts as validated; every other mapping is validated as a file is, so ``{"answers": ...}`` (a slip for
    the file's ``answer``) is refused by name."""
    from audit.gate.checklist import LoadedChecklist, load_checklist

    if checklist is None:
        return None
    if isinstance(checklist, LoadedChecklist):
        return checklist  # already loaded and validated
    check_type("checklist", checklist, CHECKLIST_TYPES, Mapping)
    return load_checklist(checklist)


def verdict_sections(data: dict, policy, *, informational: bool) -> dict:
    """The verdict and what depends on it, added to ``data`` in place: ``gate``, then the regulatory
    ``crosswalk`` (which reads the gate, checklist and model card); returns the gate. ``audit run`` (through
    :func:`audit.pipeline.judge`) and :func:`regate` both end here."""
    from audit.gate.crosswalk import crosswalk_section
    from audit.gate.verdict import evaluate

    data["gate"] = evaluate(data, policy, informational=informational)
    data["crosswalk"] = crosswalk_section(data)
    return data["gate"]


@check_keywords
def regate(audit_json, *, policy, checklist=None, out_dir: str | Path | None = None) -> GateOutcome:
    """Re-evaluate a result against ``policy`` (never informational) without recomputing a metric; with
    ``checklist``, its answers replace the stored checklist (bringing their ``[model_card]`` table).

    ``audit_json`` is a stored ``audit.json`` (path), or a result in memory: an :class:`~audit.AuditResult`
    or its mapping (left unchanged; the re-judged copy is ``GateOutcome.data``). ``gate.json`` and
    ``junit.xml`` are written as a set into ``out_dir`` — by default beside a stored ``audit.json``, and
    nowhere for a result in memory."""
    from audit.gate.model_card import model_card_section
    from audit.gate.checklist import checklist_section
    from audit.render.junit import render_junit
    from audit.result.load import load_audit_json, validate_result
    from audit.result.write import dump_json, write_outputs

    if isinstance(audit_json, (str, Path)):
        where = Path(audit_json)
        data = load_audit_json(where)
        default_out: Path | None = where.parent
    else:
        mapping = getattr(audit_json, "data", audit_json)  # an AuditResult or its mapping
        if not isinstance(mapping, Mapping):
            raise TypeError(f"regate() takes an audit.json path, an AuditResult or its mapping; "
                            f"got {type(audit_json).__name__}")
        where, default_out = None, None
        data = validate_result(copy.deepcopy(dict(mapping)), source=IN_MEMORY)
    policy_obj, _ = resolve_policy(policy)
    checklist_source = None
    if checklist is not None:
        answers = checklist_answers(checklist)
        data["checklist"], data["model_card"] = checklist_section(answers), model_card_section(answers)
        checklist_source = str(checklist) if isinstance(checklist, (str, Path)) else answers.get("source")
    verdict = verdict_sections(data, policy_obj, informational=False)
    record = {"audit_json": IN_MEMORY if where is None else str(where), "checklist_source": checklist_source,
              **verdict}
    out = Path(out_dir) if out_dir is not None else default_out
    written: dict[str, Path] = {}
    if out is not None:
        paths = write_outputs(out, {"gate.json": dump_json(record), "junit.xml": render_junit(verdict)})
        written = {p.name: p for p in paths}
    return GateOutcome(gate=verdict, record=record, written=written, data=data)
