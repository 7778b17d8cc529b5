"""The ethics checklist: its questions (five categories of the seed's ethics text), the answers file
that a team keeps next to the model, and the ``checklist`` section of the audit result."""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from audit.errors import AuditError, check_keywords

#: The answers a checklist item can have; an item without an answer is "open" (OPEN).
STATUSES = ("yes", "no", "not applicable")
OPEN = "open"
#: Statuses whose answer must carry evidence or a justification.
NEEDS_EVIDENCE = ("no", "not applicable")
REQUIRED_FIELDS = ("id", "status", "answered_by", "answered_on")
KNOWN_FIELDS = ("id", "status", "evidence", "answered_by", "answered_on")
DEFAULT_FILE = "audit-checklist.toml"

MSG_NOT_FOUND = "checklist file not found"
#: What errors and the checklist section's ``source`` name for answers given as a mapping.
IN_MEMORY = "checklist (in memory)"
_LINE_PREFIX = re.compile(r"^line \d+: ")
MSG_NOT_UTF8 = "checklist file is not UTF-8 text"
MSG_SYNTAX = "TOML syntax error at line {line}: {detail}"
MSG_TOP_LEVEL = ("line {line}: unknown top-level key {key!r}; the file holds only [[answer]] tables and "
                 "one [model_card] table")
MSG_NOT_TABLES = "'answer' must be an array of tables written as [[answer]]; got {kind}"
MSG_MISSING_ID = "line {line}: [[answer]] number {number} has no 'id'"
MSG_BAD_ID = "line {line}: 'id' must be a string; got {value!r}"
MSG_UNKNOWN_ID = "line {line}: item {item!r}: unknown item id; known ids: {known}"
MSG_DUPLICATE = "line {line}: item {item!r}: answered twice (first answer at line {first})"
MSG_MISSING_FIELD = "line {line}: item {item!r}: missing field {field!r}"
MSG_UNKNOWN_FIELD = "line {line}: item {item!r}: unknown field {field!r}; allowed fields: {allowed}"
MSG_BAD_STATUS = "line {line}: item {item!r}: invalid status {value!r}; expected one of {allowed}"
MSG_NO_EVIDENCE = "line {line}: item {item!r}: status {status!r} needs 'evidence' (the justification); got {value!r}"
MSG_BAD_TEXT = "line {line}: item {item!r}: {field!r} must be a non-empty string; got {value!r}"
MSG_BAD_DATE = "line {line}: item {item!r}: 'answered_on' must be a date like 2024-05-31; got {value!r}"

#: Short citation -> full reference (the seed notebook's ethics text and its reference list).
REFERENCES = {
    "Floridi & Taddeo 2016": "Floridi, L. and Taddeo, M. What is data ethics? Phil. Trans. R. Soc. A 374: "
    "20160360 (2016). https://doi.org/10.1098/rsta.2016.0360",
    "Sandvig et al. 2016": "Sandvig, C., Hamilton, K., Karahalios, K. and Langbort, C. When the algorithm "
    "itself is a racist: diagnosing ethical harm in the basic components of software. International "
    "Journal of Communication 10, 4972-4990 (2016).",
    "Allam & Jones 2020": "Allam, Z. and Jones, D. S. On the coronavirus (COVID-19) outbreak and the smart "
    "city network: universal data sharing standards coupled with artificial intelligence (AI) to benefit "
    "urban health monitoring and management. Healthcare 8(1), 46 (2020).",
    "Diakopoulos & Koliska 2017": "Diakopoulos, N. and Koliska, M. Algorithmic transparency in the news "
    "media. Digital Journalism 5(7), 809-828 (2017).",
    "Tsamados et al. 2022": "Tsamados, A., Aggarwal, N., Cowls, J. et al. The ethics of algorithms: key "
    "problems and solutions. AI & Soc 37, 215-230 (2022). https://doi.org/10.1007/s00146-021-01154-8",
}


@dataclass(frozen=True)
class ChecklistItem:
    """One question of the ethics checklist; ``id`` is stable across versions of the tool."""

    id: str
    category: str
    question: str
    reference: str | None = None
    links_to: str | None = None


CATEGORIES = (
    "Informed consent",
    "Surveillance and tracking",
    "Bias and discrimination",
    "Misuse of data",
    "Lack of regulation and oversight",
)

_C, _S, _B, _D, _O = CATEGORIES

ITEMS: tuple[ChecklistItem, ...] = (
    ChecklistItem("consent-1", _C, "Were the people who appear in the training and evaluation images told "
                  "that their images would be used to build and test this model, and did they consent (or is "
                  "another lawful basis written down)?", "Floridi & Taddeo 2016"),
    ChecklistItem("consent-2", _C, "Do the licences or terms of every image source (including scraped web "
                  "images) permit training and evaluating this model, and is that check recorded?"),
    ChecklistItem("consent-3", _C, "Can a person find out whether their image is in the data and have it "
                  "removed, and is there a written procedure to remove it and retrain?"),
    ChecklistItem("consent-4", _C, "Where the deployed system captures images of people, are they told at "
                  "the point of capture (notice, signage, terms) and offered a way to opt out?"),
    ChecklistItem("surveillance-1", _S, "Is there a written list of prohibited uses (identifying, tracking "
                  "or profiling individuals) and does the licence or contract bind every user to it?",
                  "Tsamados et al. 2022"),
    ChecklistItem("surveillance-2", _S, "Could outputs be linked across images, cameras or time to follow a "
                  "person; if so, which technical controls prevent it (no stored embeddings, aggregate "
                  "outputs only, rate limits)?"),
    ChecklistItem("surveillance-3", _S, "Has a data-protection or human-rights impact assessment been done "
                  "for the deployment context: who is observed, by whom, and with what consequences?",
                  "Tsamados et al. 2022"),
    ChecklistItem("surveillance-4", _S, "Are retention periods set and enforced for input images and "
                  "predictions, so that the system does not build a record of people's movements?"),
    ChecklistItem("bias-1", _B, "Has every accuracy gap in the disparity section been reviewed, and is each "
                  "gap above the policy threshold explained, mitigated or accepted in writing?",
                  "Sandvig et al. 2016", "disparity"),
    ChecklistItem("bias-2", _B, "Are the groups of people the system will be used on represented in the "
                  "evaluation data in enough numbers (see n and interval width per group in the disparity "
                  "section)?", None, "disparity"),
    ChecklistItem("bias-3", _B, "Image-property slices (brightness, contrast) are proxies only: where the "
                  "system sees people, was it also evaluated on attributes that matter for them (e.g. "
                  "consented skin-tone annotations), or is the reason it was not written down?",
                  "Sandvig et al. 2016", "disparity"),
    ChecklistItem("bias-4", _B, "Can an affected person contest a wrong prediction, and does a human review "
                  "it before any decision with consequences for that person?", None, "selective"),
    ChecklistItem("bias-5", _B, "Have people reviewed the suspected label errors of the label-quality section, "
                  "corrected the test labels found wrong (or recorded why not), and checked that the flags do not "
                  "fall mostly on one group?", None, "label-quality"),
    ChecklistItem("bias-6", _B, "Has each confirmed weak slice of the discovered-weak-slices section been "
                  "looked into (is it a group of people, a capture condition, a data gap?), and is it explained, "
                  "mitigated or accepted in writing?", None, "weak-slices"),
    ChecklistItem("data-1", _D, "Where are the training data, evaluation images, predictions and this "
                  "report stored, who can access them, and is access logged?", "Allam & Jones 2020"),
    ChecklistItem("data-2", _D, "Are images and predictions encrypted at rest and in transit, and has the "
                  "breach-response plan been tested?"),
    ChecklistItem("data-3", _D, "Is the data used only for the purpose stated when it was collected, and is "
                  "any re-use for another purpose approved and recorded?", "Allam & Jones 2020"),
    ChecklistItem("data-4", _D, "This report can contain images (the mistakes gallery): if they show "
                  "people, was it produced with --no-images or is its distribution restricted?"),
    ChecklistItem("oversight-1", _O, "Which laws and standards apply where the model will be deployed (e.g. "
                  "GDPR, the EU AI Act), and has a legal reviewer confirmed compliance?"),
    ChecklistItem("oversight-2", _O, "Is one named person accountable for releasing the model and for its "
                  "behaviour in production, with the authority to withdraw it?",
                  "Diakopoulos & Koliska 2017"),
    ChecklistItem("oversight-3", _O, "Is the model documented well enough for outside scrutiny (model card, "
                  "this report), and can a deployed model be traced to its audit by its hash?",
                  "Diakopoulos & Koliska 2017"),
    ChecklistItem("oversight-4", _O, "Is post-release monitoring in place (accuracy, calibration and "
                  "disparity on fresh data), with a date for the next audit?", "Tsamados et al. 2022"),
)

ITEMS_BY_ID = {item.id: item for item in ITEMS}

_HEADER = re.compile(r"^\s*\[\[\s*answer\s*\]\]")
_LINE_IN_MESSAGE = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")


def template_text() -> str:
    """Return the commented answers template (``templates/checklist.toml``)."""
    return resources.files("audit.templates").joinpath("checklist.toml").read_text(encoding="utf-8")


class LoadedChecklist(dict):
    """What :func:`load_checklist` returns: a plain dict, marked as validated (``checklist=`` takes it as it
    is; any other mapping is validated as a file)."""


@check_keywords
def load_checklist(path: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read and validate an answers file, or a mapping with the file's structure.

    Parameters
    ----------
    path : str, Path or mapping
        A TOML file with one ``[[answer]]`` table per answered item, or the same as a mapping:
        ``{"answer": [{"id": ..., "status": ..., "answered_by": ..., "answered_on": ...}], "model_card": {...}}``
        (validated as a file is; messages then name the answer, not a line).

    Returns
    -------
    dict
        ``{"source": str(path), "answers": {item id: {"status", "evidence", "answered_by",
        "answered_on"}}, "model_card": {field: text | None}}`` with ``answered_on`` as an ISO date
        string; pass it to :func:`checklist_section` and
        :func:`audit.gate.model_card.model_card_section`.

    Raises
    ------
    AuditError
        Naming the file, the line and the item for every kind of bad answer.
    TypeError
        When ``path`` is neither a path nor a mapping.
    """
    if not isinstance(path, (str, os.PathLike, Mapping)):
        raise TypeError(f"checklist must be a path or a mapping with the answers file's structure; "
                        f"got {type(path).__name__}")
    if isinstance(path, LoadedChecklist):
        return path  # already read and checked by this function
    if isinstance(path, Mapping):
        try:
            return _from_data(dict(path), [], Path(IN_MEMORY), IN_MEMORY)
        except AuditError as exc:  # no lines to point at in a mapping
            raise AuditError(_LINE_PREFIX.sub("", exc.message), path=IN_MEMORY, hint=exc.hint) from None
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditError(MSG_NOT_FOUND, path=path, hint="`audit checklist init` writes a template") from None
    except UnicodeDecodeError:
        raise AuditError(MSG_NOT_UTF8, path=path) from None
    except OSError as exc:
        raise AuditError(f"cannot read checklist file: {exc.strerror or exc}", path=path) from None
    lines = text.splitlines()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _LINE_IN_MESSAGE.search(str(exc))
        line = int(found.group(1)) if found and found.group(1) else max(len(lines), 1)
        detail = _LINE_IN_MESSAGE.sub("", str(exc)).strip()
        raise AuditError(MSG_SYNTAX.format(line=line, detail=detail), path=path) from None
    return _from_data(data, lines, path, str(path))


def _from_data(data: dict, lines: list[str], path: Path, source: str) -> dict[str, Any]:
    """Validate parsed answers (``lines``: the file's text, for the line numbers of messages)."""
    for key in data:
        if key not in ("answer", "model_card"):
            close = difflib.get_close_matches(str(key), ["answer", "model_card"], n=1, cutoff=0.6)
            raise AuditError(MSG_TOP_LEVEL.format(line=_key_line(lines, key, 0, len(lines)), key=key), path=path,
                             hint=f"did you mean {close[0]!r}?" if close else None)
    tables = data.get("answer", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise AuditError(MSG_NOT_TABLES.format(kind=type(tables).__name__), path=path)

    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    answers: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    for number, table in enumerate(tables):
        lo = starts[number] if number < len(starts) else 0
        hi = starts[number + 1] if number + 1 < len(starts) else len(lines)
        answers_id, answer = _validate(table, number + 1, lines, lo, hi, path)
        id_line = _key_line(lines, "id", lo, hi)
        if answers_id in answers:
            raise AuditError(MSG_DUPLICATE.format(line=id_line, item=answers_id, first=first_line[answers_id]),
                             path=path)
        answers[answers_id] = answer
        first_line[answers_id] = id_line
    from audit.gate.model_card import parse_model_card

    return LoadedChecklist(source=source, answers=answers,
                           model_card=parse_model_card(data.get("model_card"), lines, path))


def _key_line(lines: list[str], key: str, lo: int, hi: int) -> int:
    """1-based line of ``key = ...`` within lines[lo:hi], else of the block start."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*[=.]")
    for i in range(lo, hi):
        if pattern.match(lines[i]):
            return i + 1
    return lo + 1


def _validate(table: dict, number: int, lines: list[str], lo: int, hi: int, path: Path) -> tuple[str, dict]:
    """Check one ``[[answer]]`` table and return (item id, normalised answer)."""
    header = lo + 1

    def line_of(field: str) -> int:
        return _key_line(lines, field, lo, hi)

    if "id" not in table:
        raise AuditError(MSG_MISSING_ID.format(line=header, number=number), path=path)
    item = table["id"]
    if not isinstance(item, str):
        raise AuditError(MSG_BAD_ID.format(line=line_of("id"), value=item), path=path)
    if item not in ITEMS_BY_ID:
        raise AuditError(MSG_UNKNOWN_ID.format(line=line_of("id"), item=item, known=", ".join(ITEMS_BY_ID)),
                         path=path)
    for field in table:
        if field not in KNOWN_FIELDS:
            raise AuditError(MSG_UNKNOWN_FIELD.format(line=line_of(field), item=item, field=field,
                                                      allowed=", ".join(KNOWN_FIELDS)), path=path)
    for field in REQUIRED_FIELDS:
        if field not in table:
            raise AuditError(MSG_MISSING_FIELD.format(line=header, item=item, field=field), path=path)

    status = table["status"]
    if status not in STATUSES:
        raise AuditError(MSG_BAD_STATUS.format(line=line_of("status"), item=item, value=status,
                                               allowed=" | ".join(repr(s) for s in STATUSES)), path=path)
    evidence = table.get("evidence")
    if evidence is not None and not isinstance(evidence, str):
        raise AuditError(MSG_BAD_TEXT.format(line=line_of("evidence"), item=item, field="evidence",
                                             value=evidence), path=path)
    evidence = evidence.strip() if evidence else None
    if status in NEEDS_EVIDENCE and not evidence:
        raise AuditError(MSG_NO_EVIDENCE.format(line=line_of("evidence") if "evidence" in table else header,
                                                item=item, status=status, value=table.get("evidence")),
                         path=path)
    answered_by = table["answered_by"]
    if not isinstance(answered_by, str) or not answered_by.strip():
        raise AuditError(MSG_BAD_TEXT.format(line=line_of("answered_by"), item=item, field="answered_by",
                                             value=answered_by), path=path)
    answered_on = _parse_date(table["answered_on"])
    if answered_on is None:
        raise AuditError(MSG_BAD_DATE.format(line=line_of("answered_on"), item=item,
                                             value=table["answered_on"]), path=path)
    return item, {"status": status, "evidence": evidence, "answered_by": answered_by.strip(),
                  "answered_on": answered_on}


def _parse_date(value: Any) -> str | None:
    """ISO date string of a TOML date or a 'YYYY-MM-DD' string; None when it is neither."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None


def checklist_section(answers: dict[str, Any] | None) -> dict[str, Any]:
    """Build the ``checklist`` section of the audit result.

    Parameters
    ----------
    answers : dict or None
        What :func:`load_checklist` returned, or None when no answers file was given (every item open).

    Returns
    -------
    dict
        ``{"items": [...], "source": str | None, "n_open": int}``; each item has ``id``, ``category``,
        ``question``, ``reference``, ``status`` ("open" when unanswered), ``evidence``, ``answered_by``,
        ``answered_on`` and ``links_to``.
    """
    given = (answers or {}).get("answers", {})
    items = []
    for item in ITEMS:
        answer = given.get(item.id)
        items.append({
            "id": item.id,
            "category": item.category,
            "question": item.question,
            "reference": item.reference,
            "status": answer["status"] if answer else OPEN,
            "evidence": answer["evidence"] if answer else None,
            "answered_by": answer["answered_by"] if answer else None,
            "answered_on": answer["answered_on"] if answer else None,
            "links_to": item.links_to,
        })
    return {
        "items": items,
        "source": (answers or {}).get("source"),
        "n_open": sum(1 for i in items if i["status"] == OPEN),
    }
