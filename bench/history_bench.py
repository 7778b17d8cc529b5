"""History store: time to record one run, to list 10,000 stored runs, database size per run, and the
parallel-writer check (8 processes x 25 runs), on SQLite and on a throwaway PostgreSQL server.

    .venv/bin/python bench/history_bench.py [--runs 10000] [--record 50] [--backends sqlite postgresql]

The stored result is the renderer tests' complete CIFAR-10-sized result (10 classes, N = 10,000, 24
mistakes with thumbnails, which are stripped before storing). Baseline, timed in the same process:
writing that result's audit.json (dump_json + write_outputs, fsync), which every run already pays;
recording is printed as a ratio of it. Listing is `HistoryStore.list_runs(limit=None)` and the
`audit history --limit N` command (in-process, table formatting included). Size per run: the SQLite
file after a WAL checkpoint, and PostgreSQL's pg_total_relation_size of the three tables (TOAST and
indexes included), each divided by the number of runs. PostgreSQL runs with fsync=off (a throwaway test
server): its write figures are lower bounds for a real server. Last, the wall time a user sees:
`audit run --predictions` recorded against --no-record, as subprocesses (median of ``--cli-repeats``, 3).
``--json PATH`` writes every figure, each single-record time and each subprocess's wall seconds.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
import audit  # noqa: E402,F401  (first: tests/audit on the path must not shadow the installed package)

sys.path.append(str(REPO / "tests"))  # the throwaway PostgreSQL server and the sample result

sys.path.insert(0, str(REPO / "bench"))
from common import Bench, add_options  # noqa: E402
from helpers import history_workers, postgres  # noqa: E402
from helpers.sample_result import sample_result  # noqa: E402


def bench_backend(name: str, url: str, n_runs: int, n_record: int, result: dict, text: str,
                  baseline_s: float) -> dict:
    from click.testing import CliRunner
    from sqlalchemy import create_engine, text as sql

    from audit.cli import app
    from audit.history import HistoryStore

    store = HistoryStore(url, create=True)
    store.record_run(result, audit_json_text=text)  # creates the schema: not timed
    times = []
    for _ in range(n_record):
        t0 = time.perf_counter()
        store.record_run(result, audit_json_text=text)
        times.append(time.perf_counter() - t0)
    record_s = statistics.median(times)
    record_times = times
    todo = n_runs - n_record - 1
    t0 = time.perf_counter()
    for start in range(0, todo, 1000):
        store.record_runs([(result, text)] * min(1000, todo - start))
    bulk_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    listed = store.list_runs(limit=None)
    list_s = time.perf_counter() - t0
    assert len(listed) == n_runs, len(listed)
    t0 = time.perf_counter()
    out = CliRunner().invoke(app, ["history", "--db", url, "--limit", str(n_runs)])
    cli_s = time.perf_counter() - t0
    assert out.exit_code == 0 and len(out.output.splitlines()) == n_runs + 1, out.output[-300:]
    store.close()
    engine = create_engine(url)
    with engine.connect() as conn:
        if name == "sqlite":
            conn.execute(sql("PRAGMA wal_checkpoint(TRUNCATE)"))
            size = Path(url.removeprefix("sqlite:///")).stat().st_size
        else:
            size = conn.execute(sql("SELECT pg_total_relation_size('runs') + pg_total_relation_size('run_metrics')"
                                    " + pg_total_relation_size('gate_verdicts')")).scalar()
    engine.dispose()
    return {"record_ms": 1000 * record_s, "record_ratio": record_s / baseline_s,
            "bulk_ms_per_run": 1000 * bulk_s / max(todo, 1), "list_ms": 1000 * list_s, "cli_list_ms": 1000 * cli_s,
            "bytes_per_run": size / n_runs, "record_s": record_times, "list_s": list_s, "cli_list_s": cli_s}


def parallel(url: str, workers: int = 8, runs: int = 25) -> dict:
    import alembic.command  # noqa: F401  (imported before the fork, as in the test)

    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=history_workers.write_runs, args=(url, w, runs, barrier, results))
             for w in range(workers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    out = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    from audit.history import HistoryStore

    rows = len(HistoryStore(url).list_runs(limit=None))
    return {"rows": rows, "errors": sum(len(e) for _, _, e in out), "wall_s": wall}


def cli_overhead(tmp: Path, repeats: int = 3) -> dict:
    """Wall time of `audit run --predictions` (10,000 x 10 predictions) recorded into an existing SQLite
    history, against the same command with --no-record (which still reads the history for the trend)."""
    import subprocess

    import numpy as np

    from audit.predictions import make_predictions
    from audit.sources import save_npz

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=10_000)
    preds = tmp / "cli-preds.npz"
    save_npz(preds, make_predictions(rng.integers(0, 10, 10_000), probs))
    db = tmp / "cli.sqlite"
    cmd = [sys.executable, "-m", "audit", "run", "--predictions", str(preds), "--bootstrap", "0", "--db", str(db),
           "--out", str(tmp / "cli-out")]
    subprocess.run(cmd, check=True, capture_output=True)  # creates the database
    out, walls = {}, {"no_record": [], "record": []}
    for _ in range(repeats):  # interleaved: each round runs both
        for label, extra in (("no_record", ["--no-record"]), ("record", [])):
            t0 = time.perf_counter()
            subprocess.run(cmd + extra, check=True, capture_output=True)
            walls[label].append(time.perf_counter() - t0)
    for label, times in walls.items():
        out[label] = statistics.median(times)
    out["runs_s"] = walls
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10_000, help="runs stored before listing")
    ap.add_argument("--record", type=int, default=50, help="single-run records timed (median)")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--writers", type=int, default=8, help="parallel writer processes")
    ap.add_argument("--writer-runs", type=int, default=25, help="runs each parallel writer records")
    ap.add_argument("--cli-repeats", type=int, default=3, help="rounds of the recorded / --no-record subprocesses")
    add_options(ap)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    bench = Bench("history_bench", args, argv)

    from audit.gate.verdict import evaluate
    from audit.gate.policy import default_policy
    from audit.result.write import dump_json, write_outputs

    result = sample_result()
    result["gate"] = evaluate(result, default_policy(), informational=True)
    text = dump_json(result)
    tmp = Path(tempfile.mkdtemp(prefix="history-bench-"))
    times = []
    for i in range(max(args.record, 5)):
        t0 = time.perf_counter()
        write_outputs(tmp / "baseline", {"audit.json": dump_json(result)})
        times.append(time.perf_counter() - t0)
    baseline_s = statistics.median(times)
    bench.data.update(runs=args.runs, baseline_s=times, backends={})
    print(f"baseline: dump_json + write audit.json ({len(text) / 1024:.0f} KiB) {1000 * baseline_s:.1f} ms")

    server = None
    for name in args.backends:
        if name == "sqlite":
            url, purl = f"sqlite:///{tmp / 'bench.sqlite'}", f"sqlite:///{tmp / 'parallel.sqlite'}"
        else:
            server, why = postgres.start()
            if server is None:
                print(f"postgresql: skipped ({why})")
                continue
            url, purl = server.create_database(), server.create_database()
        bench.load(name, echo=False)
        r = bench_backend(name, url, args.runs, args.record, result, text, baseline_s)
        p = parallel(purl, args.writers, args.writer_runs)
        bench["backends"][name] = {**r, "parallel": p}
        print(f"{name}: record one run {r['record_ms']:.1f} ms (median of {args.record}; "
              f"{r['record_ratio']:.1f}x writing audit.json) | list {args.runs} runs {r['list_ms']:.0f} ms "
              f"(API), {r['cli_list_ms']:.0f} ms (`audit history --limit {args.runs}`) | "
              f"{r['bytes_per_run'] / 1024:.1f} KiB per run | bulk insert {r['bulk_ms_per_run']:.2f} ms/run | "
              f"{args.writers}x{args.writer_runs} parallel writers: {p['rows']} rows, {p['errors']} errors, {p['wall_s']:.1f} s")
    if server is not None:
        server.stop()
    bench.load("audit run subprocesses", echo=False)
    c = cli_overhead(tmp, args.cli_repeats)
    print(f"`audit run --predictions` (10,000 x 10), wall: {c['record']:.2f} s recorded, {c['no_record']:.2f} s "
          f"with --no-record ({c['record'] / c['no_record']:.2f}x){bench.marked()}")
    bench["cli"] = c
    bench.table([{"backend": name, "record one run ms": round(r["record_ms"], 2),
                  "× writing audit.json": round(r["record_ratio"], 2), f"list {args.runs} runs ms": round(r["list_ms"], 1),
                  "KiB per run": round(r["bytes_per_run"] / 1024, 2),
                  "parallel writers: rows / errors": f"{r['parallel']['rows']} / {r['parallel']['errors']}"}
                 for name, r in bench["backends"].items()])
    bench.headline("audit run --predictions recorded / --no-record, median wall", c["record"] / c["no_record"])
    bench.finish()


if __name__ == "__main__":
    main()
