"""End to end: `audit run` on a saved model and the 10k CIFAR-10 test images, wall time split by stage.

    .venv/bin/python bench/e2e_bench.py --model models/cifar10-seed --data ../shared/datasets/cifar-10-binary.tar.gz

Stages, timed in one process in the order `audit run` runs them: TensorFlow import, data load (from the
extraction cache), model load (safe mode, probe check), inference (test split with images, validation split
for the temperature), metrics (build_result: every metric, bootstrap, thumbnails, slices), charts (SVG),
rendering (HTML + Markdown + JUnit + JSON) and writing. Then the real command, `audit run`, is timed as a
subprocess for the wall time a user sees (target: <= 15 s on 2 cores). Also times
`audit run --predictions` on the same predictions, which must not import TensorFlow at all.
``--json PATH`` writes the stage seconds and both subprocesses' wall seconds (``--repeats`` runs each,
interleaved, a load-average reading before each pair).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from common import Bench, add_options, require_model  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("AUDIT_DATA", str(REPO.parent / "shared/datasets/cifar-10-binary.tar.gz")))
    ap.add_argument("--repeats", type=int, default=1, help="runs of each `audit run` subprocess (interleaved)")
    add_options(ap, model=True)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = ap.parse_args(argv)
    bench = Bench("e2e_bench", args, argv)
    require_model(args.model, "e2e_bench.py")
    bench.load("stages", echo=False)

    times: dict[str, float] = {}

    def lap(name, t0):
        times[name] = time.perf_counter() - t0
        return time.perf_counter()

    t = time.perf_counter()
    from audit.model.quiet import import_keras
    import_keras()
    t = lap("TensorFlow import", t)
    from audit.model.data import load_cifar10
    data = load_cifar10(Path(args.data))
    t = lap("data load (cached)", t)
    from audit.model.artifacts import load_model
    model = load_model(args.model)
    t = lap("model load", t)
    from audit.model.predict import cifar10_predictions
    pred = cifar10_predictions(args.model, data, split="test", images=True, model=model, progress=False)
    cal = cifar10_predictions(args.model, data, split="validation", images=False, model=model, progress=False)
    t = lap("inference (test + validation)", t)
    from audit.engine.build import build_result
    result = build_result(pred, calibration=cal, calibration_source="validation split")
    t = lap("metrics", t)
    from audit.gate.checklist import checklist_section
    from audit.gate.policy import default_policy
    from audit.gate.verdict import evaluate
    result["checklist"] = checklist_section(None)
    result["baseline"] = None
    result["gate"] = evaluate(result, default_policy(), informational=True)
    from audit.render import html
    html._charts(html.normalise(result))
    t = lap("charts (SVG)", t)
    from audit.result.write import dump_json, write_outputs
    from audit.render.junit import render_junit
    from audit.render.markdown import render_markdown
    files = {"audit.json": dump_json(result), "report.html": html.render_html(result),
             "summary.md": render_markdown(result), "junit.xml": render_junit(result["gate"])}
    t = lap("rendering (incl. charts again)", t)
    with tempfile.TemporaryDirectory() as tmp:
        write_outputs(tmp, files)
        t = lap("writing", t)
        from audit.sources import save_npz
        save_npz(Path(tmp) / "p.npz", pred)
        cli = [str(Path(sys.executable).with_name("audit")), "run"]
        walls_model, walls_pred = [], []
        for r in range(args.repeats):
            bench.load(f"pair {r + 1}", echo=False)
            t0 = time.perf_counter()
            subprocess.run(cli + ["--model", args.model, "--data", args.data, "--out", f"{tmp}/m"],
                           check=True, capture_output=True)
            walls_model.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(cli + ["--predictions", f"{tmp}/p.npz", "--out", f"{tmp}/p"], check=True,
                           capture_output=True)
            walls_pred.append(time.perf_counter() - t0)
        wall_model, wall_pred = min(walls_model), min(walls_pred)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'stage':34s} {'seconds':>8s}")
    for name, sec in times.items():
        print(f"{name:34s} {sec:8.2f}")
    print(f"{'sum of stages':34s} {sum(times.values()):8.2f}")
    print(f"{'audit run (model), wall':34s} {wall_model:8.2f}   target <= 15 s")
    print(f"{'audit run --predictions, wall':34s} {wall_pred:8.2f}   (no TensorFlow import)")
    print(f"report.html: {len(files['report.html'].encode()):,} bytes{bench.marked()}")
    bench.data.update(stages_s=times, sum_of_stages_s=sum(times.values()), audit_run_model_s=walls_model,
                      audit_run_predictions_s=walls_pred, report_html_bytes=len(files["report.html"].encode()))
    bench.table([{"stage": name, "seconds": round(sec, 3)} for name, sec in times.items()]
                + [{"stage": "audit run (model), wall (best)", "seconds": round(wall_model, 3)},
                   {"stage": "audit run --predictions, wall (best)", "seconds": round(wall_pred, 3)}])
    bench.headline("audit run (model), wall seconds (best)", wall_model)
    bench.finish()


if __name__ == "__main__":
    main()
