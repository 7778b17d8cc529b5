"""The regulatory crosswalk: the rows of ``templates/crosswalk.toml``, each given a status on a finished result.

A row's status: ``"out of scope"`` or ``"gap"`` where the mapping says so; ``"gap"`` where one of its JSON
pointers (RFC 6901) does not resolve to a non-null value in this audit, or where a row about persons or groups of
persons (``people = true``) finds no group column of people audited, image-property proxies only (its ``missing``
text says what would fill it);
``"team"`` while the sign-off it needs is missing, or for a row resting on checklist answers or model-card fields
alone while one of them is missing (the reason names which); otherwise ``"evidence"``, whose reason still names any
answer the team owes. It reads the verdict too, so it runs after the gate.
"""

from __future__ import annotations

import functools
import importlib.resources
import tomllib
from typing import Any, Sequence

from audit.errors import AuditError
from audit.gate.checklist import OPEN
from audit.gate.model_card import FIELDS as MODEL_CARD_FIELDS

FRAMEWORKS = ("EU AI Act", "NIST AI RMF 1.0", "ISO/IEC 42001:2023")
STATUSES = ("evidence", "team", "gap", "out of scope")
#: The field a row names when it waits for ``audit sign``.
SIGNOFF = "signoff"
ROW_KEYS = {"framework", "item", "paraphrase", "evidence", "fields", "section", "missing", "gap", "out_of_scope",
            "people"}
#: The disparity entries that are about people: the group columns the audit was given. Image-property slices
#: (brightness, contrast) are proxies that say nothing about people, so a row about persons or groups of persons
#: (``people = true``) is not evidenced by them.
PEOPLE_KIND = "group column"
MSG_SIGN = ("waits for a sign-off: reviewers sign this exact report with `audit sign {run} --by NAME --role ROLE "
            "--report report.html` (a report cannot hold its own signature)")
MSG_SIGNED = "signed by {names}"
MSG_BASELINE_SIGNED = "; the released baseline run #{id} was signed by {names}"
MSG_MISSING = "not in this audit: {pointers}"
MSG_NULL = "undefined (null) in this audit: {pointers}"
MSG_NO_PEOPLE = "no group column of the people concerned was audited"
MSG_PROXIES_ONLY = "; the image-property slices measured ({names}) are proxies that say nothing about people"
MSG_TEAM = "waits for {what}"
MSG_EVIDENCE = "every pointer resolves: {pointers}"
MSG_DECLINED = "the team answered \"no\" to the checklist item{s} {items} (the justification is in the checklist)"
MSG_BAD_MAPPING = "crosswalk mapping {source}: {problem}"


def resolve(document: Any, pointer: str) -> Any:
    """The value at the RFC 6901 ``pointer`` in ``document``.

    Raises
    ------
    KeyError
        When a key or index on the way does not exist.
    """
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/'; got {pointer!r}")
    value = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list):
            if not token.isdigit() or (token != "0" and token.startswith("0")) or int(token) >= len(value):
                raise KeyError(pointer)
            value = value[int(token)]
        elif isinstance(value, dict):
            if token not in value:
                raise KeyError(pointer)
            value = value[token]
        else:
            raise KeyError(pointer)
    return value


def _non_null(document: Any, pointer: str) -> bool:
    try:
        return resolve(document, pointer) is not None
    except KeyError:
        return False


def _present(document: Any, pointer: str) -> bool:
    try:
        resolve(document, pointer)
    except KeyError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def mapping() -> dict[str, Any]:
    """The packaged mapping, checked: ``{version, disclaimer, rows[]}``."""
    text = (importlib.resources.files("audit.templates") / "crosswalk.toml").read_text(encoding="utf-8")
    return check_mapping(tomllib.loads(text), "crosswalk.toml")


def check_mapping(raw: dict, source: str) -> dict[str, Any]:
    """Validate a parsed mapping: known keys, frameworks, pointers, fields; one verdict per row."""
    def bad(problem: str) -> AuditError:
        return AuditError(MSG_BAD_MAPPING.format(source=source, problem=problem))

    if not isinstance(raw.get("version"), str) or not isinstance(raw.get("disclaimer"), str):
        raise bad("needs a version and a disclaimer (strings)")
    seen = set()
    for row in raw.get("rows") or []:
        where = f"row {row.get('framework')!r} {row.get('item')!r}"
        if set(row) - ROW_KEYS:
            raise bad(f"{where}: unknown keys {sorted(set(row) - ROW_KEYS)}")
        if row.get("framework") not in FRAMEWORKS or not row.get("item") or not row.get("paraphrase"):
            raise bad(f"{where}: needs a framework (one of {FRAMEWORKS}), an item and a paraphrase")
        if (row["framework"], row["item"]) in seen:
            raise bad(f"{where}: listed twice")
        seen.add((row["framework"], row["item"]))
        if any(not isinstance(p, str) or not p.startswith("/") for p in row.get("evidence", [])):
            raise bad(f"{where}: evidence must be JSON pointers starting with '/'")
        for field in row.get("fields", []):
            kind, _, name = field.partition(".")
            if not (field == SIGNOFF or (kind == "model_card" and name in MODEL_CARD_FIELDS)
                    or (kind == "checklist" and name)):
                raise bad(f"{where}: unknown field {field!r}")
        if ("gap" in row) + ("out_of_scope" in row) + bool(row.get("evidence") or row.get("fields")) != 1:
            raise bad(f"{where}: needs exactly one of evidence/fields, gap, out_of_scope")
        if row.get("people") and not (row.get("evidence") and row.get("missing")):
            raise bad(f"{where}: a row about people needs evidence pointers and a 'missing' text")
    return {"version": raw["version"], "disclaimer": " ".join(raw["disclaimer"].split()), "rows": raw["rows"]}


def crosswalk_section(result: dict, *, signoffs: Sequence[dict] = (), run_id: int | None = None) -> dict:
    """The ``crosswalk`` section of ``result`` (not modified).

    Parameters
    ----------
    result : dict
        A finished audit result (its ``gate``, ``checklist`` and ``model_card`` sections included).
    signoffs : sequence of dict
        Sign-offs of this very report (``audit history show`` passes the stored ones; at audit time there
        are none yet).
    run_id : int, optional
        The run's id in the history, named in the sign-off reason.

    Returns
    -------
    dict
        ``{version, disclaimer, rows[]: {framework, item, paraphrase, evidence, fields, section, status,
        reason}}``.
    """
    spec = mapping()
    return {"version": spec["version"], "disclaimer": spec["disclaimer"],
            "rows": [_row(row, result, signoffs, run_id) for row in spec["rows"]]}


def _row(row: dict, result: dict, signoffs: Sequence[dict], run_id: int | None) -> dict:
    status, reason = _status(row, result, signoffs, run_id)
    return {"framework": row["framework"], "item": row["item"], "paraphrase": row["paraphrase"],
            "evidence": list(row.get("evidence", [])), "fields": list(row.get("fields", [])),
            "section": row.get("section"), "status": status, "reason": reason}


def _status(row: dict, result: dict, signoffs: Sequence[dict], run_id: int | None) -> tuple[str, str]:
    if "out_of_scope" in row:
        return "out of scope", row["out_of_scope"]
    if "gap" in row:
        return "gap", row["gap"]
    pointers = row.get("evidence", [])
    missing = f" ({row['missing']})" if row.get("missing") else ""
    if row.get("people"):
        disparity = result.get("disparity") or []
        if not any(entry.get("kind") == PEOPLE_KIND for entry in disparity):
            proxies = [str(entry.get("name")) for entry in disparity]
            return "gap", MSG_NO_PEOPLE + (MSG_PROXIES_ONLY.format(names=", ".join(proxies)) if proxies else "") + missing
    absent = [p for p in pointers if not _non_null(result, p)]
    if absent:
        nulls = [p for p in absent if _present(result, p)]
        text = "; ".join(([MSG_MISSING.format(pointers=", ".join(p for p in absent if p not in nulls))]
                          if len(nulls) < len(absent) else [])
                         + ([MSG_NULL.format(pointers=", ".join(nulls))] if nulls else []))
        return "gap", text + missing
    waiting = _waiting(row.get("fields", []), result)
    signed = [s for s in signoffs if s.get("by")]
    if SIGNOFF in row.get("fields", []) and not signed:
        reason = MSG_SIGN.format(run=run_id if run_id is not None else "RUN_ID")
        baseline = result.get("released_baseline") or {}
        names = _names(baseline.get("signoffs") or [])
        if names:
            reason += MSG_BASELINE_SIGNED.format(id=baseline.get("run_id"), names=names)
        return "team", "; ".join([reason, *waiting])
    if waiting and not pointers:
        return "team", "; ".join(waiting)
    declined = _declined(row.get("fields", []), result)
    if declined and not pointers:  # the team's own answer says it is not in place
        return "gap", declined
    if signed and SIGNOFF in row.get("fields", []):
        reason = MSG_SIGNED.format(names=_names(signed))
    else:
        reason = MSG_EVIDENCE.format(pointers=", ".join(pointers)) if pointers else "answered by the team"
    # the audit holds the evidence; what the team still owes, or answered "no", is said, not hidden
    return "evidence", "; ".join([reason, *(w.replace("waits for", "the team still owes") for w in waiting),
                                  *([declined] if declined else [])])


def _checklist_items(fields: Sequence[str], result: dict, status: str) -> list[str]:
    """The ids of the checklist items among ``fields`` whose status in the result is ``status`` (an item the
    result does not list is open)."""
    items = {item["id"]: item for item in (result.get("checklist") or {}).get("items") or []}
    return [f.partition(".")[2] for f in fields if f.startswith("checklist.")
            and (items.get(f.partition(".")[2]) or {}).get("status", OPEN) == status]


def _declined(fields: Sequence[str], result: dict) -> str | None:
    """The checklist items among ``fields`` the team answered "no" (their justification is in the checklist)."""
    no = _checklist_items(fields, result, "no")
    if not no:
        return None
    return MSG_DECLINED.format(s="s" if len(no) > 1 else "", items=", ".join(no))


def _waiting(fields: Sequence[str], result: dict) -> list[str]:
    """One phrase per kind of missing answer: the model-card fields still empty, the checklist items open."""
    card = (result.get("model_card") or {}).get("fields") or {}
    empty = [f.partition(".")[2] for f in fields if f.startswith("model_card.") and not card.get(f.partition(".")[2])]
    open_ = _checklist_items(fields, result, OPEN)
    out = []
    if empty:
        out.append(MSG_TEAM.format(what="the model-card field" + ("s " if len(empty) > 1 else " ") + ", ".join(empty)))
    if open_:
        out.append(MSG_TEAM.format(what="the checklist answer" + ("s " if len(open_) > 1 else " ") + ", ".join(open_)))
    return out


def _names(signoffs: Sequence[dict]) -> str:
    return ", ".join(f"{s['by']} ({s.get('role') or 'no role'}, {str(s.get('at') or '')[:10]})" for s in signoffs)


def counts(section: dict) -> dict[str, int]:
    """Rows per status, every status listed."""
    out = dict.fromkeys(STATUSES, 0)
    for row in section.get("rows") or []:
        out[row["status"]] += 1
    return out
