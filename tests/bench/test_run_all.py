"""bench/run_all.py: the registry covers every benchmark; a quick run of two cheap ones writes one JSON and the
Markdown tables with the date and the load averages; the load limit refuses (one line, non-zero exit, nothing
written); a missing model names the command that trains it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_ALL = REPO / "bench" / "run_all.py"
#: Not benchmarks: the shared module, run_all itself, and the baseline process run_bench.py times.
NOT_BENCHMARKS = {"common.py", "run_all.py", "straightforward.py"}


def load_run_all():
    """bench/run_all.py as a module (its registry), leaving sys.path as it was."""
    saved = list(sys.path)
    spec = importlib.util.spec_from_file_location("bench_run_all", RUN_ALL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
        sys.modules.pop(spec.name, None)
        sys.modules.pop("common", None)  # bench/common.py, imported by run_all under that plain name
    return module


def bench_common():
    """bench/common.py as a module."""
    spec = importlib.util.spec_from_file_location("bench_common", REPO / "bench" / "common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_all(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN_ALL), *map(str, args)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def test_registry_covers_every_bench_script():
    module = load_run_all()
    scripts = {p.name for p in (REPO / "bench").glob("*.py")} - NOT_BENCHMARKS
    assert {e.script for e in module.REGISTRY} == scripts
    assert {e.name for e in module.REGISTRY if e.long} == {"train_vs_seed", "train_steps", "seed_keras3"}
    for e in module.REGISTRY:
        assert e.backs and e.duration


def test_quick_run_writes_json_and_markdown_with_date_and_loads(tmp_path, bench_env):
    out, md = tmp_path / "all.json", tmp_path / "all.md"
    # a negative limit with --force: every load is above it, so the override and the marks must show
    done = run_all("--quick", "--only", "confidence_bench", "metrics_bench", "--max-load", -1, "--force",
                   "--json", out, "--markdown", md, env=bench_env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert list(report["benchmarks"]) == ["confidence_bench", "metrics_bench"]
    assert report["forced"] is True and report["quick"] is True and report["max_load"] == -1
    assert report["date"].endswith("Z") and report["machine"]["cores"] >= 1
    assert [x["before"] for x in report["loads"]] == ["confidence_bench", "metrics_bench"]
    for name, r in report["benchmarks"].items():
        assert r["status"] == "ok" and r["under_load"] is True
        assert r["result"]["benchmark"] == name and r["result"]["forced"] is True
        assert r["result"]["loads"] and r["result"]["table"]
        assert "--force" in r["command"] and "--json" not in r["command"]
    text = md.read_text(encoding="utf-8")
    assert report["date"][:10] in text and "load average" in text and "(under load)" in text
    assert "`--force` overrode" in text
    assert "| confidence_bench |" in text and "**metrics_bench**" in text
    assert text in done.stdout  # the tables are printed too


def test_quick_run_below_the_limit_has_no_under_load_marks(tmp_path, bench_env):
    md = tmp_path / "all.md"
    done = run_all("--quick", "--only", "confidence_bench", "--max-load", 1e6, "--json", tmp_path / "all.json",
                   "--markdown", md, env=bench_env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    bench = report["benchmarks"]["confidence_bench"]
    # below the load limit only other processes' CPU can mark it: exactly when a reading shows them above the
    # limit (none on an idle machine; on a machine shared with other work the mark must then show)
    others = [x["others_cores"] for x in bench["result"]["loads"] if x.get("others_cores") is not None]
    busy = any(o > bench_common().OTHERS_LIMIT for o in others)
    assert report["forced"] is False and bench["under_load"] is busy
    assert ("under load" in md.read_text(encoding="utf-8")) is busy


def test_refuses_above_the_load_limit(tmp_path):
    out = tmp_path / "all.json"
    done = run_all("--only", "confidence_bench", "--max-load", -1, "--json", out)
    assert done.returncode == 3
    assert len(done.stderr.strip().splitlines()) == 1 and "above --max-load -1.0" in done.stderr
    assert "--force" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_a_bench_script_refuses_above_the_load_limit(tmp_path):
    out = tmp_path / "c.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "confidence_bench.py"), "--n", "100",
                           "--max-load", "-1", "--json", str(out)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 3 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "above --max-load" in done.stderr
    assert not out.exists()


def test_missing_model_names_the_training_command(tmp_path):
    done = run_all("--only", "image_throughput", "--model", tmp_path / "absent", "--force")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert f"no trained seed model in {tmp_path / 'absent'}" in done.stderr and "audit train" in done.stderr


def test_long_benchmarks_need_include_long():
    done = run_all("--only", "train_vs_seed", "--force")
    assert done.returncode == 2 and "--include-long" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_unknown_name_is_one_line():
    done = run_all("--skip", "no_such_bench")
    assert done.returncode == 2 and "no benchmark named 'no_such_bench'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
