"""Benchmark: `audit run --predictions` as a whole process against the straightforward script doing the same work
(``bench/straightforward.py``: scikit-learn + numpy + fairlearn on the raw rows), each run as its own process
with its imports, as a user runs them; plus the cost of ``import audit`` and of ``audit run --predictions`` on a
small file.

    .venv/bin/python bench/run_bench.py                      # 1M × 10, 3 interleaved pairs, 10k rows
    .venv/bin/python bench/run_bench.py --n 1000000 --repeat 5 --json bench/results/run.json

The data: N × K Dirichlet(0.3) probabilities, about 70% top-1 right, one group column of 4 values (seed 0),
written as ``.npz``. `audit run` runs with its defaults (200 bootstrap resamples, the temperature cross-fit,
every section, the verdict, the four files written) and ``--no-record``, with ``--db`` naming a database that
does not exist (a CI job's fresh clone). The script checks that both processes report the same confusion
matrix, ECE, classwise ECE, log loss, Brier, per-class ROC AUC and average precision and group difference.
Before each pair it prints the 1-minute load average; it refuses to start above ``--max-load`` unless
``--force`` (then the figures are marked as taken under load; bench/common.py); ``--pause S`` rests S seconds before each large run
(none by default, see PAUSE).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
AUDIT = str(Path(PYTHON).with_name("audit"))
sys.path.insert(0, str(REPO / "bench"))
from common import Bench, add_options  # noqa: E402
from metrics_bench import make_data  # noqa: E402  (the data of the in-process metrics benchmark)


def make_file(path: Path, n: int, k: int, seed: int) -> None:
    labels, probs, groups = make_data(n, k, seed)
    np.savez(path, probs=probs, labels=labels, class_names=np.array([f"c{i}" for i in range(k)]),
             group_region=groups)


#: Seconds of rest before each timed process (``--pause``; none by default: on the 2-core VM here a pause of 3 s
#: made the 2-second process 10-15% slower, its first-touch memory and idle CPUs cold again, and the 12-second
#: one hardly slower, so resting between runs flatters the straightforward side).
PAUSE = 0.0


def timed(cmd: list[str], pause: float = PAUSE) -> float:
    time.sleep(pause)
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode not in (0, 1):  # 1: the informational gate may fail; the run itself is complete
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return wall


def check_agreement(audit_json: Path, numbers_json: Path) -> list[str]:
    """Where the two processes' numbers differ (empty: they agree)."""
    a = json.loads(audit_json.read_text(encoding="utf-8"))
    s = json.loads(numbers_json.read_text(encoding="utf-8"))
    k = len(a["class_names"])
    cells = np.zeros((k, k), dtype=np.int64)
    for t, p, c in a["confusion_cells"]:
        cells[t, p] = c
    problems = []

    def close(name, ours, theirs, tol):
        if ours is None or abs(ours - theirs) > tol:
            problems.append(f"{name}: audit {ours} vs straightforward {theirs}")

    if cells.tolist() != s["confusion_matrix"]:
        problems.append("confusion matrix")
    cal = a["calibration"]
    close("accuracy", a["overall"]["accuracy"], s["report"]["accuracy"], 1e-12)
    close("ECE", cal["ece"], s["ece"], 1e-9)
    close("classwise ECE", cal["classwise_ece"], s["classwise_ece"], 1e-9)
    # scikit-learn clips p at float64 eps, the audit at 1e-15 (its stated convention): the rare p_true = 0 rows differ
    close("log loss", cal["nll"], s["log_loss"], 1e-4)
    close("Brier", cal["brier"], s["brier"], 1e-9)
    for c, value in s["roc_auc"].items():
        row = a["per_class"][int(c)]
        close(f"ROC AUC of class {c}", row["roc_auc"], value, 1e-12)
        close(f"AP of class {c}", row["average_precision"], s["average_precision"][c], 1e-12)
    by_name = {d["name"]: d for d in a["disparity"]}
    for name, frame in s["disparity"].items():
        close(f"difference by {name}", by_name[name]["difference"], frame["difference"], 1e-12)
    close("suspected label errors", (a.get("label_quality") or {}).get("n_flagged"), s["n_flagged"], 0)
    return problems


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--small", type=int, default=10_000, help="rows of the small file (import-bound run)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved pairs of the large run")
    parser.add_argument("--small-repeat", type=int, default=7)
    parser.add_argument("--pause", type=float, default=PAUSE, help="seconds of rest before each large run")
    add_options(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    bench = Bench("run_bench", args, argv)
    out = bench.data
    out.update({"n": args.n, "k": args.k, "small": args.small, "audit_s": [], "straightforward_s": [],
                "small_audit_s": [], "import_audit_s": [], "bare_python_s": []})
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big, small = tmp / "big.npz", tmp / "small.npz"
        make_file(big, args.n, args.k, seed=0)
        make_file(small, args.small, args.k, seed=1)
        audit_cmd = [AUDIT, "run", "--no-record", "--db", str(tmp / "absent.sqlite"), "--reproducible"]
        for i in range(args.repeat):
            bench.load(f"pair {i + 1}")
            out["straightforward_s"].append(timed([PYTHON, str(REPO / "bench" / "straightforward.py"), str(big),
                                                   "--out", str(tmp / "numbers.json")], args.pause))
            out["audit_s"].append(timed(audit_cmd + ["--predictions", str(big), "--out", str(tmp / "big-out")],
                                        args.pause))
            print(f"  straightforward {out['straightforward_s'][-1]:.2f} s, audit run {out['audit_s'][-1]:.2f} s "
                  f"({out['straightforward_s'][-1] / out['audit_s'][-1]:.2f}×)", flush=True)
        problems = check_agreement(tmp / "big-out" / "audit.json", tmp / "numbers.json")
        for i in range(args.small_repeat):
            bench.load(f"small run {i + 1}", echo=False)
            out["bare_python_s"].append(timed([PYTHON, "-c", "pass"], 0))
            out["import_audit_s"].append(timed([PYTHON, "-c", "import audit"], 0))
            out["small_audit_s"].append(timed(audit_cmd + ["--predictions", str(small), "--out", str(tmp / "s")], 0))
    med = {key: statistics.median(out[key]) for key in ("audit_s", "straightforward_s", "small_audit_s",
                                                         "import_audit_s", "bare_python_s")}
    pairs = [s / a for s, a in zip(out["straightforward_s"], out["audit_s"])]
    out.update(ratio_median=med["straightforward_s"] / med["audit_s"],
               ratio_best=min(out["straightforward_s"]) / min(out["audit_s"]), ratio_pairs=pairs,
               agreement=problems or "the two processes report the same numbers")
    loads = [x["load"] for x in out["loads"]]
    print(f"\n{args.n:,} × {args.k}, {args.repeat} interleaved pairs, load {min(loads):.2f}–"
          f"{max(loads):.2f}{bench.marked()}")
    print(f"  straightforward script  median {med['straightforward_s']:.2f} s (best {min(out['straightforward_s']):.2f})")
    print(f"  audit run               median {med['audit_s']:.2f} s (best {min(out['audit_s']):.2f})")
    print(f"  ratio                   median {out['ratio_median']:.2f}×, best {out['ratio_best']:.2f}×, pairs "
          + ", ".join(f"{r:.2f}×" for r in pairs))
    print(f"  {out['agreement'] if isinstance(out['agreement'], str) else 'DISAGREE: ' + '; '.join(problems)}")
    print(f"{args.small:,} rows: audit run median {med['small_audit_s']:.2f} s (best {min(out['small_audit_s']):.2f}); "
          f"import audit median {1000 * (med['import_audit_s'] - med['bare_python_s']):.0f} ms above a bare interpreter "
          f"({1000 * med['bare_python_s']:.0f} ms)")
    bench.table([{"rows": f"{args.n:,} × {args.k}", "pair count": args.repeat,
                  "straightforward median s": round(med["straightforward_s"], 3),
                  "audit run median s": round(med["audit_s"], 3), "ratio (median)": round(out["ratio_median"], 3),
                  "ratio pair by pair": ", ".join(f"{r:.2f}" for r in pairs),
                  f"audit run on {args.small:,} rows, median s": round(med["small_audit_s"], 3),
                  "import audit, ms above bare": round(1000 * (med["import_audit_s"] - med["bare_python_s"]))}])
    bench.headline("straightforward script / audit run, median wall", out["ratio_median"])
    bench.finish()
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
