"""The crosswalk of a real model audit of the seed network (issue 26's test): at least 20 rows "evidence", every
pointer of an "evidence" row holding a value, and the rows about people a "gap" (CIFAR-10 has no group column of
people: the image-property slices are proxies)."""

from __future__ import annotations

import json

import pytest
from helpers.cifar_fixtures import shared_archive, write_dataset
from helpers.hardening_helpers import run_main

from audit.gate.crosswalk import counts, mapping, resolve


@pytest.mark.slow
def test_the_seed_audit_has_at_least_20_evidence_rows_and_no_people_evidence(trained, tmp_path, session_cache):
    data = shared_archive() or write_dataset(tmp_path / "data", per_file=60, test=50)
    out = tmp_path / "out"
    code = run_main("run", "--model", trained.out_dir, "--data", data, "--out", out, "--bootstrap", "0",
                    "--corruptions", "gaussian_noise,fog", "--corruption-samples", "100", "--no-record")
    assert code in (0, 1)
    result = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    section = result["crosswalk"]
    assert section["version"] == mapping()["version"] and "not a legal conformity assessment" in section["disclaimer"]
    assert counts(section)["evidence"] >= 20, counts(section)
    people = {r["item"] for r in mapping()["rows"] if r.get("people")}
    for row in section["rows"]:
        if row["status"] == "evidence":
            assert all(resolve(result, p) is not None for p in row["evidence"]), row["item"]
        if row["item"] in people:
            assert row["status"] == "gap" and "proxies that say nothing about people" in row["reason"], row
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="crosswalk"' in html and "<code>audit sign" in html and "See Sign-off." in html
