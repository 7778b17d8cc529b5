"""Benchmark: the audit at K = 10, 100, 1,000 classes (N = 50,000 by default).

For each K, on the same .npz file (Dirichlet(0.3) probabilities, ~70% top-1 right, a group column of 4
values and one of N/10 ids mostly below the minimum group size):

- report.html size and render time (``render_html`` on the finished result, best of ``--repeat``);
- ``audit run --predictions FILE --group-col region --group-col site --no-images --reproducible``
  in-process (read, metrics with bootstrap B=200 and the temperature cross-fit, verdict, all four files
  written) against the straightforward scikit-learn + fairlearn path on the same file (np.load,
  confusion_matrix + classification_report + log_loss, a numpy ECE loop, MetricFrame on raw rows for
  both group columns), timed interleaved, best of ``--repeat``. The ratio audit run / straightforward
  should not grow with K.

    .venv/bin/python bench/any_k_bench.py                      # K = 10, 100, 1000; N = 50,000
    .venv/bin/python bench/any_k_bench.py --ks 10 1000 --repeat 3

``--json PATH`` writes, per K, every round's wall seconds of both paths (``audit_s``, ``straightforward_s``, a
load-average reading before each round), the render times and report size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Bench, add_options  # noqa: E402
from metrics_bench import machine  # noqa: E402

REGIONS = np.array(["north", "south", "east", "west"])


def make_file(path: Path, n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.3), n)
    labels = np.where(rng.random(n) < 0.7, probs.argmax(1), rng.integers(0, k, n))
    np.savez(path, labels=labels, probs=probs, class_names=np.array([f"n{i:08d}" for i in range(k)]),
             group_region=REGIONS[rng.integers(0, 4, n)],
             group_site=np.char.add("site", rng.integers(0, max(n // 10, 1), n).astype(str)))


def straightforward(path: Path) -> dict:
    from fairlearn.metrics import MetricFrame
    from metrics_bench import naive_classification  # bench/ is on sys.path (the script's folder)
    from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

    data = np.load(path)
    labels, probs = data["labels"], data["probs"]
    k = probs.shape[1]
    out = naive_classification(labels, probs)
    pred = out.pop("pred")
    frames = {name: MetricFrame(metrics=accuracy_score, y_true=labels, y_pred=pred,
                                sensitive_features=data[f"group_{name}"]) for name in ("region", "site")}
    # the per-class ranking metrics the audit reports too (issue 16): one-vs-rest, classes with samples
    # and without every sample
    auc, ap = {}, {}
    for c in range(k):
        truth = labels == c
        if 0 < truth.sum() < len(labels):
            auc[c] = roc_auc_score(truth, probs[:, c])
            ap[c] = average_precision_score(truth, probs[:, c])
    return {**out, "auc": auc, "ap": ap, "difference": {name: mf.difference() for name, mf in frames.items()}}


def audit_run(path: Path, out: Path) -> None:
    from click.testing import CliRunner

    from audit.cli import app

    done = CliRunner().invoke(app, ["run", "--predictions", str(path), "--group-col", "region",
                                    "--group-col", "site", "--no-images", "--reproducible", "--out", str(out)])
    if done.exit_code != 0:
        raise SystemExit(f"audit run failed: {done.output} {done.exception!r}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    add_options(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    bench = Bench("any_k_bench", args, argv)
    rows = []

    import json

    import fairlearn.metrics  # noqa: F401  (import costs are not part of either timing)
    import sklearn.metrics  # noqa: F401

    import audit.commands.run  # noqa: F401
    from audit.render.html import render_html

    print(f"machine: {machine()}")
    print(f"N = {args.n:,}, best of {args.repeat} interleaved runs; group columns region (4) and site "
          f"({max(args.n // 10, 1):,} ids)")
    print("   K  report.html   render   audit run   straightforward   audit run / straightforward")
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.ks:
            path = Path(tmp) / f"k{k}.npz"
            make_file(path, args.n, k, args.seed)
            out = Path(tmp) / f"out{k}"
            runs = {"audit": [], "naive": []}
            for r in range(args.repeat):
                bench.load(f"K = {k}, round {r + 1}", echo=False)
                t = time.perf_counter()
                audit_run(path, out)
                runs["audit"].append(time.perf_counter() - t)
                t = time.perf_counter()
                ref = straightforward(path)
                runs["naive"].append(time.perf_counter() - t)
            best = {key: min(v) for key, v in runs.items()}
            result = json.loads((out / "audit.json").read_text(encoding="utf-8"))
            cells = np.zeros((k, k), dtype=np.int64)
            for t_, p_, c in result["confusion_cells"]:
                cells[t_, p_] = c
            assert (cells == ref["cm"]).all() and abs(result["calibration"]["ece"] - ref["ece"]) < 1e-9
            by_name = {d["name"]: d for d in result["disparity"]}
            assert abs(by_name["region"]["difference"] - ref["difference"]["region"]) < 1e-12
            for c, value in ref["auc"].items():
                row = result["per_class"][c]
                assert abs(row["roc_auc"] - value) < 1e-12 and abs(row["average_precision"] - ref["ap"][c]) < 1e-12
            renders = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                html = render_html(result)
                renders.append(time.perf_counter() - t)
            render = min(renders)
            size = len(html.encode("utf-8"))
            rows.append({"k": k, "audit_s": runs["audit"], "straightforward_s": runs["naive"], "render_s": renders,
                         "report_html_bytes": size, "ratio_best": best["audit"] / best["naive"]})
            print(f"{k:4d}  {size / 2**20:8.2f} MB  {render:6.2f} s  {best['audit']:8.2f} s  "
                  f"{best['naive']:13.2f} s   {best['audit'] / best['naive']:10.2f}×")
    print("results agree with the straightforward path (confusion matrix, ECE, region difference, per-class "
          "ROC AUC and average precision)" + bench.marked())
    bench.data.update(n=args.n, repeat=args.repeat, by_k=rows)
    bench.table([{"K": r["k"], "report.html MB": round(r["report_html_bytes"] / 2**20, 2),
                  "render s": round(min(r["render_s"]), 3), "audit run s": round(min(r["audit_s"]), 3),
                  "straightforward s": round(min(r["straightforward_s"]), 3),
                  "audit run / straightforward": round(r["ratio_best"], 3)} for r in rows])
    bench.headline(f"audit run / straightforward at K = {rows[-1]['k']}, best wall", rows[-1]["ratio_best"])
    bench.finish()


if __name__ == "__main__":
    main()
