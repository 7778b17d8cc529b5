"""Re-measure every figure README.md and BENCHMARKS.md quote: every benchmark in bench/, one after the other,
each in a fresh process, into one JSON and the Markdown tables BENCHMARKS.md shows.

    .venv/bin/python bench/run_all.py                                   # every benchmark but the long ones
    .venv/bin/python bench/run_all.py --include-long                    # and the training ones (about an hour)
    .venv/bin/python bench/run_all.py --only image_throughput corruption_speed confidence_bench \\
        --markdown bench/results/figures.md
    .venv/bin/python bench/run_all.py --quick                           # a smoke run: small sizes, minutes
    .venv/bin/python bench/run_all.py --list                            # the registry

Each benchmark interleaves its baseline and project runs itself (round r runs every path once) and prints the
load average before each pair or run. ``run_all`` prints the load average before each benchmark and refuses to
start when the 1-minute load average is above ``--max-load`` (default 1.0: an idle 2-core machine; a per-item
Python loop suffers more from a loaded machine than vectorised code does, so figures taken under load flatter
the project). ``--force`` overrides that; the override is recorded in the JSON and marked in the tables. A
benchmark whose load average before some pair was above the limit is marked "(under load)"; a benchmark that
refuses to start (the load rose above the limit meanwhile) is recorded as refused and the others go on (exit
code 1 at the end).

The long benchmarks — training: ``train_vs_seed``, ``train_steps``, ``seed_keras3`` — are in the registry but
run only with ``--include-long`` (they take 5 to 40 minutes each). The benchmarks that need a trained seed
model get ``--model`` (default ``models/cifar10-seed``, trained by ``audit train --out models/cifar10-seed``);
``run_all`` stops with one line naming that command when the model is missing. ``--data`` (default: the
scripts' own, ``../shared/datasets/cifar-10-binary.tar.gz`` or ``$AUDIT_DATA``) is passed to the benchmarks
that read CIFAR-10.

Output: ``--json PATH`` (default ``bench/results/run_all-<UTC date>.json``): the date, command line, machine,
the limit, whether ``--force`` overrode it, the load average before each benchmark, and per benchmark its
registry entry, exit code, wall seconds and its own ``--json`` record (every measurement, the load before
each pair: bench/common.py). ``--markdown PATH``: an overview table and one table per benchmark, with the
date and the load averages in each caption.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))
from common import DEFAULT_MODEL, EXIT_LOAD, MAX_LOAD, TRAIN_HINT, load_averages, machine, utc_now, write_json  # noqa: E402


@dataclass(frozen=True)
class Entry:
    """One benchmark of the registry."""

    name: str
    script: str
    args: tuple[str, ...]
    quick: tuple[str, ...]
    backs: str
    duration: str
    long: bool = False
    model: bool = False
    data: bool = False


REGISTRY: tuple[Entry, ...] = (
    Entry("image_throughput", "image_bench.py", ("throughput", "--repeats", "6"), ("throughput", "--n", "200", "--repeats", "1"),
          "BENCHMARKS.md 'Throughput: 10,000 CIFAR-10 test images as PNG files'; README image pipeline figure "
          "(pipeline / inference-only, loop / pipeline)", "1-2 min (first run writes 10,000 PNGs)", model=True, data=True),
    Entry("image_memory", "image_bench.py", ("memory",), ("memory", "--sizes", "50", "100"),
          "BENCHMARKS.md 'Memory: peak RSS against the number of images'", "3-5 min (first run writes 55,000 PNGs)"),
    Entry("image_run", "image_bench.py", ("run", "--repeats", "3"), ("run", "--repeats", "1"),
          "BENCHMARKS.md '`audit run` on the PNG folders against the binary layout'", "3-4 min", model=True, data=True),
    Entry("corruption_speed", "corruption_speed.py", ("--n", "10000"), ("--n", "20"),
          "BENCHMARKS.md 'Generation speed: batched `corrupt` against a per-image implementation'; README "
          "corruption speed", "2-6 min", data=True),
    Entry("confidence_bench", "confidence_bench.py", ("--repeat", "3"), ("--n", "20000", "--repeat", "1"),
          "BENCHMARKS.md 'Confidence metrics' (ranking metrics against scikit-learn); README", "1 min"),
    Entry("metrics_bench", "metrics_bench.py", ("--repeat", "3"), ("--n", "20000", "--repeat", "1"),
          "BENCHMARKS.md 'Metrics: 1M × 10 predictions against the straightforward path'", "1-2 min"),
    Entry("run_bench", "run_bench.py", ("--repeat", "7"),
          ("--n", "20000", "--small", "2000", "--repeat", "1", "--small-repeat", "1"),
          "BENCHMARKS.md '`audit run --predictions` as a whole process'; README", "2-3 min"),
    Entry("any_k_bench", "any_k_bench.py", ("--repeat", "3"), ("--ks", "10", "--n", "2000", "--repeat", "1"),
          "BENCHMARKS.md 'Any K: report size, render time and `audit run` at K = 10, 100, 1,000'", "3-5 min"),
    Entry("history_bench", "history_bench.py", (),
          ("--runs", "100", "--record", "5", "--backends", "sqlite", "--writers", "2", "--writer-runs", "5",
           "--cli-repeats", "1"),
          "BENCHMARKS.md 'History store: recording, listing, size, parallel writers'", "2-4 min"),
    Entry("e2e_bench", "e2e_bench.py", (), (),
          "BENCHMARKS.md 'End to end: `audit run` on the saved seed model'; README", "1-2 min", model=True, data=True),
    Entry("robustness_audit", "robustness_audit.py", (), ("--samples", "100"),
          "BENCHMARKS.md 'Added wall time of the default robustness audit'; README", "1-3 min", model=True, data=True),
    Entry("onnx_bench", "onnx_bench.py", ("all", "--repeats", "3"), ("throughput", "--n", "200", "--repeats", "1"),
          "BENCHMARKS.md 'ONNX models on image files'", "5-8 min", model=True, data=True),
    Entry("data_quality_bench", "data_quality_bench.py", (), ("--rows", "2000"),
          "BENCHMARKS.md 'Label quality (cleanlab) and discovered weak slices (SliceLine)'", "1 min"),
    Entry("explain_bench", "explain_bench.py", (), ("--n-test", "600", "--repeat", "1", "--limit", "300"),
          "BENCHMARKS.md 'Saliency maps of the gallery': seconds per method for 24 images, sanity figures, report "
          "size added", "1 min", model=True, data=True),
    Entry("dask_bench", "dask_bench.py", (), ("--n", "200", "--corruptions", "fog", "--severities", "1",
                                              "--corruption-samples", "50"),
          "BENCHMARKS.md 'Model audits on Dask': inference and the robustness section in one process, local:1, "
          "local:2; projection to 8 and 32 workers; peak RSS", "5-10 min", model=True, data=True),
    Entry("train_vs_seed", "train_vs_seed.py", ("--epochs", "20"), ("--epochs", "2", "--limit", "2000"),
          "BENCHMARKS.md 'Training' (seed notebook, audit train, audit train --fast); README", "about 20-40 min",
          long=True, data=True),
    Entry("train_steps", "train_steps.py", (), ("--steps", "5", "--epochs", "2", "--configs", "seed", "fast"),
          "BENCHMARKS.md 'One lever at a time: `bench/train_steps.py`'", "about 4 min", long=True),
    Entry("seed_keras3", "seed_keras3.py", ("--epochs", "20"), ("--epochs", "1", "--limit", "1000"),
          "BENCHMARKS.md 'Training' (the seed notebook's seconds per epoch alone)", "about 10 min", long=True,
          data=True),
)
BY_NAME = {e.name: e for e in REGISTRY}


def fail(message: str, code: int = 2):
    print(f"run_all: {message}", file=sys.stderr)
    raise SystemExit(code)


def select(args) -> list[Entry]:
    for name in (args.only or []) + (args.skip or []):
        if name not in BY_NAME:
            fail(f"no benchmark named {name!r}; known: {', '.join(BY_NAME)}")
    chosen = [e for e in REGISTRY if (not args.only or e.name in args.only) and e.name not in (args.skip or [])]
    if not args.include_long:
        named_long = [e.name for e in chosen if e.long and args.only]
        if named_long:
            fail(f"{', '.join(named_long)} {'is' if len(named_long) == 1 else 'are'} long (training): add --include-long")
        chosen = [e for e in chosen if not e.long]
    if not chosen:
        fail("nothing to run (every benchmark skipped)")
    return chosen


def command(entry: Entry, args, json_path: Path) -> list[str]:
    cmd = [sys.executable, str(BENCH / entry.script), *(entry.quick if args.quick else entry.args),
           "--json", str(json_path), "--max-load", str(args.max_load)]
    if args.force:
        cmd.append("--force")
    if entry.model:
        cmd += ["--model", str(args.model)]
    if entry.data and args.data:
        cmd += ["--data", str(args.data)]
    return cmd


def shown(cmd: list[str]) -> str:
    """A command as the docs write it: from the repository root, .venv/bin/python, no temporary --json."""
    out, skip = [], False
    for i, part in enumerate(cmd):
        if skip:
            skip = False
            continue
        if part == "--json":
            skip = True
            continue
        if i == 0:
            part = ".venv/bin/python"
        elif part.startswith(str(REPO) + "/"):
            part = part[len(str(REPO)) + 1:]
        out.append(part)
    return shlex.join(out)


def settle(args) -> None:
    """Wait (up to ``--settle`` seconds) for the 1-minute load average to fall to ``--max-load``: the previous
    benchmark's own work lifts it for a minute or two after it ends."""
    if args.force:  # the figures are marked as taken under load anyway
        return
    deadline = time.monotonic() + args.settle
    waited = False
    while load_averages()[0] > args.max_load and time.monotonic() < deadline:
        if not waited:
            print(f"    waiting for the load average ({load_averages()[0]:.2f}) to settle to {args.max_load}",
                  flush=True)
            waited = True
        time.sleep(5)


def run_one(entry: Entry, args, tmp: Path) -> dict:
    out_json = tmp / f"{entry.name}.json"
    cmd = command(entry, args, out_json)
    settle(args)
    before = load_averages()
    under = before[0] > args.max_load
    print(f"\n=== {entry.name}: {shown(cmd)}\n    backs: {entry.backs}\n    load average before: "
          f"{before[0]:.2f} {before[1]:.2f} {before[2]:.2f}" + ("  (above the limit: --force)" if under else ""),
          flush=True)
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO)
    seconds = time.perf_counter() - t
    record = {**asdict(entry), "command": shown(cmd), "load_before": before, "returncode": done.returncode,
              "seconds": seconds}
    if done.returncode == EXIT_LOAD:
        record["status"] = "refused: load above --max-load"
    elif done.returncode != 0:
        record["status"] = f"failed (exit code {done.returncode})"
    else:
        record["status"] = "ok"
    if out_json.exists():
        record["result"] = json.loads(out_json.read_text(encoding="utf-8"))
    elif done.returncode == 0:
        record["status"] = "failed (no JSON written)"
    res = record.get("result", {})
    record["under_load"] = bool(under or res.get("under_load"))
    print(f"=== {entry.name}: {record['status']} in {seconds:.0f} s", flush=True)
    return record


def load_range(record: dict) -> str:
    loads = [x["load"] for x in record.get("result", {}).get("loads", [])] or [record["load_before"][0]]
    lo, hi = min(loads), max(loads)
    return f"{lo:.2f}" if lo == hi else f"{lo:.2f}–{hi:.2f}"


def cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if isinstance(rows[0].get(c), (int, float)) else "---" for c in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return lines


def markdown(report: dict) -> str:
    date = report["date"].replace("T", " ").replace("Z", " UTC")
    m = report["machine"]
    limit = report["max_load"]
    forced = " `--force` overrode the limit for the runs marked (under load)." if report["forced"] else ""
    lines = [f"### Benchmarks re-measured by `bench/run_all.py`, {date}", "",
             f"`{report['command']}` on {m['cpu']}, {m['cores']} cores; load limit {limit} (1-minute load "
             f"average before each pair or run); load average at the start "
             f"{' / '.join(f'{v:.2f}' for v in report['load_start'])} (1 / 5 / 15 min).{forced}"
             + (" Quick run (small sizes): not figures to quote." if report["quick"] else ""), "",
             "| benchmark | figure | value | load before each pair/run | status | backs |", "|---|---|---:|---|---|---|"]
    for name, r in report["benchmarks"].items():
        head = r.get("result", {}).get("headline", {})
        value = head.get("value")
        mark = " (under load)" if r["under_load"] else ""
        lines.append(f"| {name} | {cell(head.get('figure', ''))} | "
                     f"{cell(value) if value is not None else ''}{mark if value is not None else ''} | "
                     f"{load_range(r)} | {r['status']}{mark} | {cell(r['backs'])} |")
    for name, r in report["benchmarks"].items():
        res = r.get("result")
        if not res or not res.get("table"):
            continue
        when = res["date"].replace("T", " ").replace("Z", " UTC")
        mark = f" **(under load: above {limit})**" if r["under_load"] else ""
        forced = " `--force` overrode the load limit." if res.get("forced") else ""
        lines += ["", f"**{name}** — `{r['command']}` — {when}, load average before each pair/run "
                      f"{load_range(r)} (limit {limit}){mark}.{forced}", ""]
        lines += markdown_table(res["table"])
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks (see --list)")
    ap.add_argument("--skip", nargs="+", metavar="NAME", help="leave these out")
    ap.add_argument("--include-long", action="store_true",
                    help="also run the long (training) benchmarks: train_vs_seed, train_steps, seed_keras3")
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run, not figures")
    ap.add_argument("--max-load", type=float, default=MAX_LOAD,
                    help=f"refuse to start above this 1-minute load average (default {MAX_LOAD})")
    ap.add_argument("--force", action="store_true", help="run even above --max-load (recorded and marked)")
    ap.add_argument("--settle", type=float, default=180.0,
                    help="seconds to wait before each benchmark for the load average to fall to --max-load "
                         "(the previous benchmark lifts it; default 180), then refuse")
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="trained seed model folder (default models/cifar10-seed)")
    ap.add_argument("--data", default=None, help="CIFAR-10 binary archive (default: each script's own)")
    ap.add_argument("--json", type=Path, default=None,
                    help="combined JSON (default bench/results/run_all-<UTC date>.json)")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the Markdown tables here")
    ap.add_argument("--list", action="store_true", help="print the registry and exit")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    if args.list:
        for e in REGISTRY:
            print(f"{e.name:18s} bench/{e.script} {' '.join(e.args)}\n{'':18s} {'long (--include-long), ' if e.long else ''}"
                  f"{e.duration}{'; needs --model' if e.model else ''}\n{'':18s} backs: {e.backs}")
        return
    chosen = select(args)
    if any(e.model for e in chosen):
        model = Path(args.model)
        if not (model / "manifest.json").exists() and not model.is_file():
            needing = ", ".join(e.name for e in chosen if e.model)
            fail(f"no trained seed model in {model} (needed by {needing}): {TRAIN_HINT.format(path=model)}")
    start = load_averages()
    if start[0] > args.max_load and not args.force:
        fail(f"load average {start[0]:.2f} is above --max-load {args.max_load}: figures taken now would flatter "
             "the per-item loops; wait for an idle machine or pass --force", EXIT_LOAD)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    json_path = args.json or BENCH / "results" / f"run_all-{stamp}.json"
    report = {"date": utc_now(), "command": shlex.join([".venv/bin/python", "bench/run_all.py", *argv]),
              "machine": machine(), "max_load": args.max_load, "force": args.force, "forced": False,
              "quick": args.quick, "model": str(args.model), "load_start": start, "loads": [], "benchmarks": {}}
    print(f"run_all: {len(chosen)} benchmarks ({', '.join(e.name for e in chosen)}); load average "
          f"{start[0]:.2f} {start[1]:.2f} {start[2]:.2f}, limit {args.max_load}"
          + ("; --force: over the limit, figures marked (under load)" if start[0] > args.max_load else ""), flush=True)
    with tempfile.TemporaryDirectory(prefix="run_all-") as tmp:
        for entry in chosen:
            record = run_one(entry, args, Path(tmp))
            report["loads"].append({"before": entry.name, "load": record["load_before"][0]})
            report["benchmarks"][entry.name] = record
            report["forced"] = report["forced"] or bool(args.force and record["under_load"])
    report["load_end"] = load_averages()
    report["finished"] = utc_now()
    write_json(json_path, report)
    table = markdown(report)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table, encoding="utf-8")
    print("\n" + table)
    print(f"run_all: JSON {json_path}" + (f", Markdown {args.markdown}" if args.markdown else ""))
    bad = [n for n, r in report["benchmarks"].items() if r["status"] != "ok"]
    if bad:
        statuses = [f"{n} ({report['benchmarks'][n]['status']})" for n in bad]
        fail(f"not measured: {', '.join(statuses)}", 1)


if __name__ == "__main__":
    main()
