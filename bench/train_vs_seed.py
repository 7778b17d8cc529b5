"""Seconds per epoch of ``audit train`` against the seed notebook's plain Keras 3 code, back to back.

Runs both in fresh processes on the same data, same epochs and batch size, then prints seconds per
epoch (mean of all epochs, and of epochs 2.. which leaves out tracing/compilation), test accuracy and
the ratio ours / seed (below or near 1.0 means we are not slower). Logs and a JSON summary go to
``bench/results/`` (git-ignored).

    .venv/bin/python bench/train_vs_seed.py                      # 20 epochs, full data (~quiet machine!)
    .venv/bin/python bench/train_vs_seed.py --epochs 1 --limit 2000   # quick check that it works
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


def default_data() -> str:
    return os.environ.get("AUDIT_DATA") or str(REPO.parent / "shared" / "datasets" / "cifar-10-binary.tar.gz")


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data())
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="train on N images (both scripts)")
    parser.add_argument("--seed-first", action="store_true", help="run the seed script first")
    args = parser.parse_args(argv)

    results_dir = REPO / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    limit = ["--limit", str(args.limit)] if args.limit else []
    with tempfile.TemporaryDirectory(prefix="train-vs-seed-") as tmp:
        out = Path(tmp) / "model"
        seed_json = Path(tmp) / "seed.json"
        ours_cmd = [sys.executable, "-m", "audit", "train", "--data", args.data, "--epochs", str(args.epochs),
                    "--batch-size", str(args.batch_size), "--out", str(out), *limit]
        seed_cmd = [sys.executable, str(REPO / "bench" / "seed_keras3.py"), "--data", args.data,
                    "--epochs", str(args.epochs), "--json", str(seed_json), *limit]
        if args.batch_size != 128:
            sys.exit("the seed notebook trains with batch size 128; compare at 128")
        jobs = [("ours", ours_cmd), ("seed", seed_cmd)]
        wall = {}
        for name, cmd in (reversed(jobs) if args.seed_first else jobs):
            wall[name] = run(cmd, results_dir / f"{stamp}-{name}.log")
        manifest = json.loads((out / "manifest.json").read_text())
        seed = json.loads(seed_json.read_text())

    ours_s, seed_s = summary(manifest["seconds_per_epoch"]), summary(seed["seconds_per_epoch"])
    report = {
        "created_at": stamp, "epochs": args.epochs, "limit": args.limit, "data": args.data,
        "order": "seed first" if args.seed_first else "ours first",
        "versions": manifest["versions"], "devices": manifest.get("devices"),
        "ours": {**ours_s, "test_accuracy": manifest["test"]["accuracy"], "wall_seconds": wall["ours"]},
        "seed": {**seed_s, "test_accuracy": seed["test_accuracy"], "wall_seconds": wall["seed"]},
        "ratio_mean_all": ours_s["mean_all"] / seed_s["mean_all"],
        "ratio_mean_after_first": ours_s["mean_after_first"] / seed_s["mean_after_first"],
    }
    from audit.atomic import write_text

    write_text(results_dir / f"{stamp}-train_vs_seed.json", json.dumps(report, indent=2) + "\n")
    print(f"\n{'':24}{'ours':>10}{'seed':>10}")
    for label, key in (("s/epoch (all epochs)", "mean_all"), ("s/epoch (epochs 2..)", "mean_after_first")):
        print(f"{label:24}{ours_s[key]:>10.2f}{seed_s[key]:>10.2f}")
    print(f"{'test accuracy':24}{report['ours']['test_accuracy']:>10.4f}{report['seed']['test_accuracy']:>10.4f}")
    print(f"{'wall seconds':24}{wall['ours']:>10.1f}{wall['seed']:>10.1f}")
    print(f"ratio ours/seed: {report['ratio_mean_all']:.3f} (all epochs), "
          f"{report['ratio_mean_after_first']:.3f} (epochs 2..)")
    print(f"summary: {results_dir / (stamp + '-train_vs_seed.json')}")


if __name__ == "__main__":
    main()
