"""The golden-output scenarios: fixed inputs and the CLI runs whose every output file must stay
byte-identical (``--reproducible``) across refactors. ``tests/golden/regen.py`` rewrites the expected files
when an output is meant to change; ``tests/golden/test_golden.py`` compares.

Inputs are made here from seeded numpy draws (nothing binary is committed), so the scenarios run from
any checkout. Only numpy and ``np.savez``/CSV text are used, so the same inputs come out of older code.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
EXPECTED = REPO / "tests" / "golden" / "expected"
CLASS_NAMES = ("cat", "dog", "bird", "ship")

ANSWERS = (  # id, status, evidence, answered_by, answered_on
    ("consent-1", "yes", "consent forms on file", "A. Reviewer", "2026-01-15"),
    ("bias-1", "no", "gaps not yet reviewed <script>alert(1)</script>", "A. Reviewer", "2026-01-15"),
    ("oversight-2", "not applicable", "no automated decisions", "B. Reviewer", "2026-01-16"),
)
#: A filled-in checklist (three answers, one of them "no", one with markup to escape).
CHECKLIST = "\n".join(f'[[answer]]\nid = "{i}"\nstatus = "{st}"\nevidence = "{ev}"\nanswered_by = "{by}"\n'
                      f"answered_on = {on}\n" for i, st, ev, by, on in ANSWERS)


def _arrays(n: int, seed: int, skill: float = 0.6):
    rng = np.random.default_rng(seed)
    k = len(CLASS_NAMES)
    probs = rng.dirichlet(np.full(k, 0.7), size=n)
    labels = np.where(rng.random(n) < skill, probs.argmax(axis=1), rng.integers(0, k, n))
    region = np.asarray(["north", "south", "east"])[rng.integers(0, 3, n)]
    site = np.asarray(["a", "b"])[rng.integers(0, 2, n)]
    return probs, labels, region, site


def write_inputs(root: Path) -> None:
    """Every input file of the scenarios, into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    ids = np.asarray([f"img{i:05d}" for i in range(240)])
    probs, labels, region, site = _arrays(240, seed=11)
    np.savez(root / "preds.npz", probs=probs, labels=labels, class_names=np.asarray(CLASS_NAMES),
             sample_ids=ids, group_region=region, group_site=site)
    b_probs, _, _, _ = _arrays(240, seed=12, skill=0.5)
    np.savez(root / "previous.npz", probs=b_probs, labels=labels, class_names=np.asarray(CLASS_NAMES),
             sample_ids=ids, group_region=region, group_site=site)
    c_probs, c_labels, _, _ = _arrays(120, seed=13)
    np.savez(root / "calibration.npz", probs=c_probs, labels=c_labels, class_names=np.asarray(CLASS_NAMES))
    header = "sample_id,label," + ",".join(f"prob_{c}" for c in CLASS_NAMES) + ",region"
    rows = [f"{ids[i]},{labels[i]}," + ",".join(repr(float(p)) for p in probs[i]) + f",{region[i]}"
            for i in range(240)]
    (root / "preds.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (root / "checklist.toml").write_text(CHECKLIST, encoding="utf-8")
    # the default policy template as shipped (read as a file, so older code gets the same policy)
    (root / "policy.toml").write_text((REPO / "templates" / "policy.toml").read_text(encoding="utf-8"),
                                      encoding="utf-8")


#: scenario name -> CLI arguments (run in the inputs folder; every run writes into out/<name>).
SCENARIOS: dict[str, list[str]] = {
    "npz-groups": ["run", "--predictions", "preds.npz", "--seed", "3", "--bootstrap", "40"],
    "csv-policy-checklist": ["run", "--predictions", "preds.csv", "--group-col", "region", "--policy",
                             "policy.toml", "--checklist", "checklist.toml", "--bootstrap", "40"],
    "baseline-predictions": ["run", "--predictions", "preds.npz", "--group-col", "region", "--baseline",
                             "previous.npz", "--bootstrap", "0", "--name", "with-baseline"],
    "calibration-set": ["run", "--predictions", "preds.npz", "--calibration-set", "calibration.npz",
                        "--no-images", "--bootstrap", "20"],
    "streamed": ["run", "--predictions", "preds.npz", "--stream", "--chunk-rows", "100", "--bootstrap", "30"],
    "baseline-json": ["run", "--predictions", "preds.csv", "--baseline", "out/npz-groups/audit.json",
                      "--bootstrap", "0"],
    "gate": ["gate", "out/csv-policy-checklist/audit.json", "--policy", "policy.toml", "--checklist",
             "checklist.toml"],
}


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_scenarios(root: Path) -> dict[str, bytes]:
    """Run every scenario in-process in ``root`` (inputs written first); return
    ``{"<scenario>/<file>": bytes}`` of every file written, plus ``"<scenario>/exit"``."""
    from audit.cli import main

    write_inputs(root)
    out: dict[str, bytes] = {}
    with _cwd(root):
        for name, args in SCENARIOS.items():
            argv = list(args)
            # --no-record and an empty history of its own: the report's trend holds this run alone
            argv += ["--out", f"out/{name}", "--no-record", "--db", str(root / "history.sqlite")]
            if args[0] == "run":
                argv.append("--reproducible")
            try:
                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code
            out[f"{name}/exit"] = str(code).encode()
            folder = root / "out" / name
            for path in sorted(folder.iterdir()):
                out[f"{name}/{path.name}"] = path.read_bytes()
    return out
