"""Fuzzing the checklist loader (bounded for CI: 50 examples a test,
more with AUDIT_FUZZ_EXAMPLES): random text, mutated valid files and
random answer tables either load or raise the documented one-line AuditError naming the file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from helpers.hardening_helpers import GOOD_CHECKLIST

from audit.gate.checklist import ITEMS_BY_ID, checklist_section, load_checklist
from audit.errors import AuditError

#: 50 in CI; AUDIT_FUZZ_EXAMPLES=2000 for a longer hunt
EXAMPLES = int(os.environ.get("AUDIT_FUZZ_EXAMPLES", "50"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOML_VALUES = ['""', '" "', "1", "-0", "true", "[1, 2]", "{a = 1}", "2024-01-01", "1979-05-27T07:32:00Z",
               "07:32:00", '"yes"', '"no"', '"not applicable"', '"open"', "nan", "inf", '"2024-02-30"',
               '"\\u00e9"', "'''multi\nline'''", '"consent-1"', '"bias-1"']


def outcome(data: bytes) -> None:
    """Load ``data`` as a checklist file: a valid answers dict, or a one-line AuditError naming the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit-checklist.toml"
        path.write_bytes(data)
        try:
            answers = load_checklist(path)
        except AuditError as exc:
            text = str(exc)
            assert text.startswith(f"{path}: ") and "\n" not in text and "\r" not in text, text
            return
        section = checklist_section(answers)
        assert set(answers["answers"]) <= set(ITEMS_BY_ID)
        assert section["n_open"] == len(ITEMS_BY_ID) - len(answers["answers"])


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text):
    outcome(text.encode("utf-8", errors="surrogatepass"))


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(data):
    outcome(data)


def _mutate(lines: list[str], draw) -> list[str]:
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "value", "insert", "truncate"]))
    if not lines:
        return lines
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "delete":
        return lines[:i] + lines[i + 1:]
    if kind == "duplicate":
        return lines[:i + 1] + [lines[i]] + lines[i + 1:]
    if kind == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines = list(lines)
        lines[i], lines[j] = lines[j], lines[i]
        return lines
    if kind == "value" and "=" in lines[i]:
        key = lines[i].split("=", 1)[0]
        return lines[:i] + [f"{key}= {draw(st.sampled_from(TOML_VALUES))}"] + lines[i + 1:]
    if kind == "insert":
        at = draw(st.integers(0, len(lines[i])))
        junk = draw(st.text(alphabet='[]{}="\'#.,=\\ \tabc-1\x00\u00e9', min_size=1, max_size=4))
        return lines[:i] + [lines[i][:at] + junk + lines[i][at:]] + lines[i + 1:]
    return lines[:i] + [lines[i][: draw(st.integers(0, len(lines[i])))]]


@FUZZ
@given(st.data())
def test_mutated_valid_file(data):
    lines = GOOD_CHECKLIST.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        lines = _mutate(lines, data.draw)
    outcome(("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass"))


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(allow_nan=True),
                    st.text(max_size=12), st.dates(), st.sampled_from(["yes", "no", "not applicable", "2024-05-31"]))
ANSWER = st.dictionaries(
    st.sampled_from(["id", "status", "evidence", "answered_by", "answered_on", "note"]),
    st.one_of(SCALARS, st.sampled_from(list(ITEMS_BY_ID)), st.lists(st.integers(0, 3), max_size=2)),
    max_size=6,
).map(lambda d: {k: v for k, v in d.items() if v is not None})


@FUZZ
@given(st.lists(ANSWER, max_size=4), st.booleans())
def test_random_answer_tables(answers, extra_key):
    doc = {"answer": answers}
    if extra_key:
        doc["version"] = 2
    outcome(tomli_w.dumps(doc).encode("utf-8"))


def test_the_unmutated_file_loads():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(GOOD_CHECKLIST, encoding="utf-8")
        assert set(load_checklist(path)["answers"]) == {"consent-1", "bias-1", "oversight-1"}
