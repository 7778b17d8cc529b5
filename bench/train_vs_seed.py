"""Seconds per epoch of the seed notebook's Keras 3 code, ``audit train`` and ``audit train --fast``, back to back.

Each configuration runs in a fresh process (no shared TensorFlow state) on the same data, epochs and
batch size; then the test probabilities of each trained model are scored. Prints seconds per epoch
(mean of epochs 2..N, which leaves out tracing, and of all epochs), the ratio to the seed's, test
accuracy and test ECE (15 equal-width bins, top label: ``audit.metrics``), and the load average
before and after (other jobs on the machine make ratios noisy). Logs and a JSON summary go to
``bench/results/`` (git-ignored); the Markdown table printed at the end is what BENCHMARKS.md holds.

    .venv/bin/python bench/train_vs_seed.py --epochs 20                 # full data (~20 minutes on 2 cores)
    .venv/bin/python bench/train_vs_seed.py --epochs 20 --reverse       # same, in the opposite order
    .venv/bin/python bench/train_vs_seed.py --epochs 2 --limit 2000     # quick check that it works
    .venv/bin/python bench/train_vs_seed.py --epochs 20 --seeds 1 2 3   # accuracy: default vs fast per seed

With ``--seeds``, ``audit train`` and ``audit train --fast`` run once per seed (alternating, no seed
notebook run: it is unseeded) and the table gives each run's test accuracy, test ECE and s/epoch, then
the mean over seeds and the mean paired difference fast − default with a 95% t interval.

``--json PATH`` also writes the summary there, with the keys every bench script writes (bench/common.py:
machine, date, command line, the load average before each training run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from common import Bench, add_options, machine as common_machine  # noqa: E402

CONFIGS = ("seed", "default", "fast")
#: Untimed: the trained model's probabilities on the (first ``limit``) test images, saved for scoring.
PREDICT_CODE = """\
import sys, numpy as np
from audit.model.artifacts import load_model
from audit.model.data import load_cifar10
from audit.model.predict import predict
model_dir, data, limit, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
x = load_cifar10(data).x_test
x = x[: int(limit)] if limit != "none" else x
np.save(out, predict(load_model(model_dir), x, progress=False))
"""


def default_data() -> str:
    return os.environ.get("AUDIT_DATA") or str(REPO.parent / "shared" / "datasets" / "cifar-10-binary.tar.gz")


def machine() -> dict:
    """CPU model, core count, platform (bench/common.py) and the bfloat16 flags: what the figures depend on."""
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    m = common_machine()
    return {"cpu": m["cpu"], "cores": m["cores"], "platform": m["platform"],
            "bf16_flags": sorted(f for f in flags if "bf16" in f or f.startswith("amx"))}


def run(cmd: list[str], log: Path) -> float:
    print("$", " ".join(cmd), f"> {log}", flush=True)
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        sys.exit(f"failed with exit code {proc.returncode}; see {log}")
    return time.perf_counter() - start


def summary(seconds: list[float]) -> dict:
    steady = seconds[1:] or seconds
    return {"mean_all": statistics.fmean(seconds), "mean_after_first": statistics.fmean(steady),
            "median_after_first": statistics.median(steady), "epochs": seconds}


def commands(name: str, args, tmp: Path, seed: int | None = None) -> tuple[list[str], Path | None]:
    """The training command of configuration ``name`` and the model folder it writes (None: the seed's)."""
    limit = ["--limit", str(args.limit)] if args.limit else []
    if name == "seed":
        # the load was checked by this script (its own --max-load / --force): the child does not refuse
        return [sys.executable, str(REPO / "bench" / "seed_keras3.py"), "--data", args.data,
                "--epochs", str(args.epochs), "--json", str(tmp / "seed.json"), "--force",
                "--probs", str(tmp / "seed-probs.npy"), *limit], None
    out = tmp / name
    fast = ["--fast"] if name.startswith("fast") else []
    seed_opt = ["--seed", str(seed)] if seed is not None else []
    return [sys.executable, "-m", "audit", "train", "--data", args.data, "--epochs", str(args.epochs),
            "--batch-size", "128", "--out", str(out), *fast, *seed_opt, *limit], out


def score(probs_file: Path, labels) -> dict:
    import numpy as np

    from audit.metrics.calibration import expected_calibration_error

    probs = np.load(probs_file)
    labels = np.asarray(labels)[: len(probs)]
    return {"test_accuracy_recomputed": float(np.mean(probs.argmax(axis=1) == labels)),
            "test_ece_15": expected_calibration_error(labels, probs, n_bins=15)}


def train_and_score(name: str, args, tmp: Path, log: Path, labels, seed: int | None = None) -> dict:
    """Run configuration ``name`` (training timed; ``audit train --seed`` when given), then score its
    test probabilities (untimed)."""
    cmd, out = commands(name, args, tmp, seed)
    if getattr(args, "bench", None) is not None:
        args.bench.load(name if seed is None else f"{name}, seed {seed}", echo=False)
    wall = run(cmd, log)
    if out is None:
        trained = json.loads((tmp / "seed.json").read_text())
        seconds, accuracy, extra = trained["seconds_per_epoch"], trained["test_accuracy"], {}
        probs_file = tmp / "seed-probs.npy"
    else:
        manifest = json.loads((out / "manifest.json").read_text())
        seconds, accuracy = manifest["seconds_per_epoch"], manifest["test"]["accuracy"]
        extra = {"precision_policy": manifest.get("precision_policy"), "fast": manifest.get("fast"),
                 "seed": manifest.get("seed"), "versions": manifest["versions"]}
        probs_file = tmp / f"{name}-probs.npy"
        subprocess.run([sys.executable, "-c", PREDICT_CODE, str(out), args.data,
                        str(args.limit or "none"), str(probs_file)], cwd=REPO, check=True)
    return {**summary(seconds), "test_accuracy": accuracy, **score(probs_file, labels), "wall_seconds": wall,
            **extra}


def run_seeds(args, labels, results_dir: Path, stamp: str) -> dict:
    """``audit train`` and ``audit train --fast`` once per seed in ``args.seeds``, alternating."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="train-seeds-") as tmp:
        for i, seed in enumerate(args.seeds):
            names = ("default", "fast") if i % 2 == 0 or args.reverse else ("fast", "default")
            for name in names:
                r = train_and_score(name, args, Path(tmp), results_dir / f"{stamp}-{name}-seed{seed}.log", labels,
                                    seed)
                runs.append({"config": name, "seed": seed, **r})
    return {"runs": runs, **paired_summary(runs)}


def paired_summary(runs: list[dict]) -> dict:
    """Mean over seeds per configuration, and the mean paired difference fast − default (95% t interval)."""
    from scipy import stats

    out = {}
    by = {(r["config"], r["seed"]): r for r in runs}
    seeds = sorted({r["seed"] for r in runs})
    for key in ("test_accuracy", "test_ece_15", "mean_after_first"):
        d = [by["fast", s][key] - by["default", s][key] for s in seeds]
        mean = statistics.fmean(d)
        half = (stats.t.ppf(0.975, len(d) - 1) * statistics.stdev(d) / len(d) ** 0.5) if len(d) > 1 else float("nan")
        out[key] = {
            "default_mean": statistics.fmean(by["default", s][key] for s in seeds),
            "fast_mean": statistics.fmean(by["fast", s][key] for s in seeds),
            "paired_difference_mean": mean, "paired_difference_ci95": [mean - half, mean + half],
        }
    return {"seeds": seeds, "summary": out}


def seeds_markdown(report: dict) -> str:
    rows = ["| seed | configuration | test accuracy | test ECE (15 bins) | s/epoch, epochs 2..N | fastest epoch, s |",
            "|---:|---|---:|---:|---:|---:|"]
    for r in sorted(report["runs"], key=lambda r: (r["seed"], r["config"])):
        rows.append(f"| {r['seed']} | {r['config']} | {r['test_accuracy']:.4f} | {r['test_ece_15']:.4f} "
                    f"| {r['mean_after_first']:.2f} | {min(r['epochs'][1:] or r['epochs']):.2f} |")
    rows += ["", "| over seeds " + ", ".join(map(str, report["seeds"])) + " | default mean | fast mean "
             "| fast − default, mean | 95% t interval |", "|---|---:|---:|---:|---|"]
    labels = {"test_accuracy": "test accuracy", "test_ece_15": "test ECE (15 bins)",
              "mean_after_first": "s/epoch, epochs 2..N"}
    for key, label in labels.items():
        v = report["summary"][key]
        lo, hi = v["paired_difference_ci95"]
        rows.append(f"| {label} | {v['default_mean']:.4f} | {v['fast_mean']:.4f} "
                    f"| {v['paired_difference_mean']:+.4f} | [{lo:+.4f}, {hi:+.4f}] |")
    return "\n".join(rows)


def markdown(report: dict) -> str:
    rows = ["| configuration | s/epoch, epochs 2..N | s/epoch, all | median s/epoch, 2..N | fastest epoch, s "
            "| ratio vs seed (2..N) | ratio vs seed (all) | ratio of fastest epochs | test accuracy "
            "| test ECE (15 bins) | wall s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    fastest_seed = min(report["results"]["seed"]["epochs"][1:] or report["results"]["seed"]["epochs"])
    for name in CONFIGS:
        r = report["results"][name]
        fastest = min(r["epochs"][1:] or r["epochs"])
        rows.append(f"| {name} | {r['mean_after_first']:.2f} | {r['mean_all']:.2f} | {r['median_after_first']:.2f} "
                    f"| {fastest:.2f} | {r['ratio_after_first']:.3f} "
                    f"| {r['ratio_all']:.3f} | {fastest / fastest_seed:.3f} | {r['test_accuracy']:.4f} | {r['test_ece_15']:.4f} "
                    f"| {r['wall_seconds']:.0f} |")
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data())
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--limit", type=int, default=None, help="train on N images (every configuration)")
    parser.add_argument("--reverse", action="store_true", help="run fast, default, seed (default: seed first)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                        help="accuracy comparison: default and fast once per seed (no seed-notebook run)")
    parser.add_argument("--table", metavar="JSON", default=None,
                        help="print the Markdown table of an earlier summary JSON and exit")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results",
                        help="folder of the logs and the summary JSON (default bench/results, git-ignored)")
    add_options(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.table:
        report = json.loads(Path(args.table).read_text())
        print(seeds_markdown(report) if "runs" in report else markdown(report))
        return

    from audit.model.data import load_cifar10

    args.bench = Bench("train_vs_seed", args, argv)
    results_dir = args.results
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    order = list(reversed(CONFIGS)) if args.reverse else list(CONFIGS)
    labels = load_cifar10(args.data).y_test
    load_before = os.getloadavg()
    if args.seeds:
        report = {"created_at": stamp, "command": " ".join([".venv/bin/python", "bench/train_vs_seed.py",
                                                            *sys.argv[1:]]),
                  "epochs": args.epochs, "batch_size": 128, "limit": args.limit, "data": args.data,
                  "machine": machine(), "load_average_before": load_before,
                  **run_seeds(args, labels, results_dir, stamp), "load_average_after": os.getloadavg()}
        write_report(report, results_dir / f"{stamp}-train_seeds.json", seeds_markdown(report))
        finish(args.bench, report, [{"seed": r["seed"], "configuration": r["config"],
                                     "test accuracy": round(r["test_accuracy"], 4),
                                     "s/epoch, epochs 2..N": round(r["mean_after_first"], 2)} for r in report["runs"]])
        return
    results, loads = {}, {}
    with tempfile.TemporaryDirectory(prefix="train-vs-seed-") as tmp:
        for name in order:
            load_start = os.getloadavg()
            results[name] = train_and_score(name, args, Path(tmp), results_dir / f"{stamp}-{name}.log", labels)
            loads[name] = {"start": load_start, "end": os.getloadavg()}
    load_after = os.getloadavg()
    for name in CONFIGS:
        r = results[name]
        r["ratio_all"] = r["mean_all"] / results["seed"]["mean_all"]
        r["ratio_after_first"] = r["mean_after_first"] / results["seed"]["mean_after_first"]

    report = {
        "created_at": stamp, "command": " ".join([".venv/bin/python", "bench/train_vs_seed.py", *sys.argv[1:]]),
        "epochs": args.epochs, "batch_size": 128, "limit": args.limit, "data": args.data, "order": order,
        "machine": machine(), "load_average_before": load_before, "load_average_after": load_after,
        "load_average_per_run": loads, "results": results,
    }
    write_report(report, results_dir / f"{stamp}-train_vs_seed.json", markdown(report), order=order)
    finish(args.bench, report, [{"configuration": name, "s/epoch, epochs 2..N": round(results[name]["mean_after_first"], 2),
                                 "ratio vs seed (2..N)": round(results[name]["ratio_after_first"], 3),
                                 "test accuracy": round(results[name]["test_accuracy"], 4),
                                 "wall s": round(results[name]["wall_seconds"], 1)} for name in CONFIGS])


def finish(bench, report: dict, rows: list[dict]) -> None:
    """The summary with the keys every bench script writes, to ``--json`` where given."""
    bench.data.update({k: v for k, v in report.items() if k not in ("machine", "command")})
    bench.data["training_machine"] = report["machine"]
    bench.table(rows)
    if bench.marked():
        print(bench.marked().strip())
    bench.finish()


def write_report(report: dict, summary_file: Path, table: str, order=None) -> None:
    from audit.atomic import write_text

    write_text(summary_file, json.dumps(report, indent=2) + "\n")
    m, before, after = report["machine"], report["load_average_before"], report["load_average_after"]
    print(f"\n{m['cpu']}, {m['cores']} cores, bf16 flags {m['bf16_flags']}"
          + (f"; order {', '.join(order)}" if order else "")
          + f"; load average (1/5/15 min) before {', '.join(f'{v:.2f}' for v in before)}, "
          f"after {', '.join(f'{v:.2f}' for v in after)}\n")
    print(table)
    print(f"\nsummary: {summary_file}")

if __name__ == "__main__":
    main()
