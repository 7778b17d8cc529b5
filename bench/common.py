"""What every benchmark script shares: the load check, the machine description, interleaved timing and the
``--json`` record.

A script adds the shared options with :func:`add_options` (``--json PATH``, ``--max-load``, ``--force``),
then opens a :class:`Bench` with its parsed arguments. The bench refuses to start when the 1-minute load
average is above ``--max-load`` (one line, exit code 2) unless ``--force`` is given; then it records that
the limit was overridden. It prints and records the load average before each pair or run
(:meth:`Bench.load`), times paths interleaved (:meth:`Bench.interleave`: round r runs every path once, so
that load on a shared machine hits them alike) and writes every measurement with the machine, the date
(UTC, ISO 8601), the command line and the load averages to ``--json`` (:meth:`Bench.finish`).

JSON keys every script writes (besides its own measurements):

- ``benchmark``: the script (and sub-command) name; ``command``: the command line, as run;
- ``date``: UTC start time (ISO 8601); ``finished``: UTC end time;
- ``machine``: ``cpu`` (model name from /proc/cpuinfo), ``cores`` (``os.cpu_count()``), ``cores_usable``
  (the affinity mask), ``platform``, ``python``, ``numpy``;
- ``max_load``, ``force`` (``--force`` given), ``forced`` (``--force`` overrode the limit: the load was above
  it at the start or before some pair/run), ``under_load`` (some pair/run started above the limit);
- ``load_start`` / ``load_end``: the (1, 5, 15)-minute load averages; ``loads``: ``{"before": label,
  "load": 1-minute load average, "others_cores": cores}`` before each pair or run. The load average counts
  the benchmark's own work too (on 2 cores its own runs lift it towards 2), so a pair is judged by
  ``others_cores``: the CPU time every other process used since the previous reading (``/proc/stat`` busy time
  minus this process tree's ``getrusage`` time), in cores; above ``OTHERS_LIMIT`` the pair counts as under
  load. The start is judged by the 1-minute load average (nothing of the benchmark has run yet).
- ``table``: the summary rows (a list of dicts) that ``bench/run_all.py --markdown`` renders; ``headline``:
  ``{"figure": text, "value": number}``, the figure the docs quote (absent where a script has none).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "models" / "cifar10-seed"
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "cifar-10-binary.tar.gz"
MAX_LOAD = 1.0
#: Cores' worth of CPU that other processes may have used between two readings before a pair counts as
#: measured under load (a quiet machine's daemons use a few hundredths).
OTHERS_LIMIT = 0.25
#: Exit code of a refusal to start above --max-load (run_all tells it from a failure by it).
EXIT_LOAD = 3
TRAIN_HINT = ("train it with `.venv/bin/audit train --data ../shared/datasets/cifar-10-binary.tar.gz --out {path}` "
              "(README: `audit train`)")


def add_options(parser: argparse.ArgumentParser, *, model: bool = False) -> argparse.ArgumentParser:
    """``--json``, ``--max-load``, ``--force`` (and ``--model`` where the script needs a trained seed model)."""
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="write every measurement, the machine, date, command line and load averages here")
    parser.add_argument("--max-load", type=float, default=MAX_LOAD,
                        help=f"refuse to start above this 1-minute load average (default {MAX_LOAD})")
    parser.add_argument("--force", action="store_true",
                        help="run even above --max-load (recorded; the figures are marked as taken under load)")
    if model:
        parser.add_argument("--model", default=str(DEFAULT_MODEL),
                            help="a trained seed model folder (`audit train --out DIR`; default models/cifar10-seed)")
    return parser


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def load_averages() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else [0.0, 0.0, 0.0]


def machine() -> dict:
    """CPU model (/proc/cpuinfo), cores, platform and versions: what the figures depend on."""
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable, "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__}


def require_model(path, script: str) -> Path:
    """The model folder, or exit with one line naming the command that trains it."""
    path = Path(path)
    if not (path / "manifest.json").exists() and not path.is_file():
        raise SystemExit(f"{script}: no trained seed model in {path}: {TRAIN_HINT.format(path=path)}")
    return path


def busy_seconds() -> float | None:
    """CPU seconds every process of the machine has used since boot (``/proc/stat``: all but idle and
    iowait), or None where there is no /proc."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and of its finished children (user + system)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def median(values) -> float:
    import statistics

    return float(statistics.median(values))


class Bench:
    """One benchmark run: load checks, measurements, the JSON record.

    Parameters
    ----------
    name : str
        The script's stem (and sub-command), e.g. ``"image_bench throughput"``.
    args : argparse.Namespace
        Parsed with :func:`add_options`' options.
    argv : list of str, optional
        The script's arguments (default ``sys.argv[1:]``), recorded as the command line.
    """

    def __init__(self, name: str, args, argv=None):
        self.args = args
        self.max_load = float(args.max_load)
        self.force = bool(args.force)
        argv = sys.argv[1:] if argv is None else list(argv)
        script = f"{name.split()[0]}.py"  # the name starts with the script's
        start = load_averages()
        self._mark = (busy_seconds(), own_seconds(), time.monotonic())
        self.data: dict = {
            "benchmark": name, "command": shlex.join([".venv/bin/python", f"bench/{script}", *argv]),
            "date": utc_now(), "machine": machine(), "max_load": self.max_load, "force": self.force,
            "forced": False, "under_load": False, "load_start": start, "loads": [],
        }
        if start[0] > self.max_load:
            if not self.force:
                print(f"{name}: load average {start[0]:.2f} is above --max-load {self.max_load}: figures taken "
                      "now would flatter the per-item loops; wait for an idle machine or pass --force",
                      file=sys.stderr)
                raise SystemExit(EXIT_LOAD)
            self.data["forced"] = True
            print(f"load average {start[0]:.2f} is above --max-load {self.max_load}: going on (--force); "
                  "the figures are marked as taken under load", flush=True)

    def __getitem__(self, key):
        return self.data[key]

    def __setitem__(self, key, value):
        self.data[key] = value

    def setdefault(self, key, value):
        return self.data.setdefault(key, value)

    def update(self, values: dict) -> None:
        """Add the script's own measurements (``values``) to the record."""
        self.data.update(values)

    def load(self, label: str, *, echo: bool = True) -> float:
        """Record (and print) the 1-minute load average before the pair or run ``label``, and the cores other
        processes used since the previous reading (the first: since the bench started)."""
        value = load_averages()[0]
        busy, own, now = busy_seconds(), own_seconds(), time.monotonic()
        others = None
        if busy is not None and self._mark[0] is not None and now > self._mark[2]:
            others = round(max(0.0, (busy - self._mark[0]) - (own - self._mark[1])) / (now - self._mark[2]), 3)
        self._mark = (busy, own, now)
        self.data["loads"].append({"before": label, "load": value, "others_cores": others})
        if others is not None and others > OTHERS_LIMIT:
            self.data["under_load"] = True
            self.data["forced"] = self.data["forced"] or self.force
        if echo:
            shown = "" if others is None else f", other processes {others:.2f} cores since the last reading"
            print(f"{label}: load average {value:.2f}{shown}", flush=True)
        return value

    def interleave(self, paths: dict, repeats: int, *, label: str = "round", echo: bool = True) -> dict[str, list]:
        """Wall seconds of each path per round, the paths interleaved: round r runs every path once, after a
        load reading. ``paths``: name -> callable. Returns name -> list of seconds (also kept as
        ``self["runs_s"][name]``) and each path's last return value in ``self.results``."""
        runs = self.data.setdefault("runs_s", {})
        for name in paths:
            runs.setdefault(name, [])
        self.results = getattr(self, "results", {})
        for r in range(repeats):
            self.load(f"{label} {r + 1}", echo=echo)
            for name, fn in paths.items():
                t = time.perf_counter()
                self.results[name] = fn()
                runs[name].append(time.perf_counter() - t)
        return {name: runs[name] for name in paths}

    def timed(self, key: str, fn, *args, **kwargs):
        """Run ``fn`` once; append its wall seconds to ``self[key]`` (a list); return its result."""
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        self.data.setdefault(key, []).append(time.perf_counter() - t)
        return out

    def table(self, rows: list[dict]) -> None:
        """The summary rows run_all renders as a Markdown table (column order: the first row's keys)."""
        self.data["table"] = rows

    def headline(self, figure: str, value) -> None:
        self.data["headline"] = {"figure": figure, "value": value}

    def marked(self) -> str:
        """The mark printed beside figures taken above the load limit."""
        return " [measured under load: not a result]" if self.data["under_load"] or self.data["forced"] else ""

    def finish(self) -> dict:
        """Close the record; write it to ``--json`` (if given) in one piece."""
        self.data["load_end"] = load_averages()
        self.data["finished"] = utc_now()
        path = getattr(self.args, "json", None)
        if path:
            write_json(path, self.data)
        return self.data


def write_json(path, data) -> None:
    """Write ``data`` as JSON through a temporary file and a rename (nothing half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_plain) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _plain(value):
    """numpy scalars and arrays, paths: as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
