"""``audit run``: predictions (from a file, or from the saved seed model) -> result -> verdict -> files."""

from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata
from pathlib import Path

import click

from audit import __version__
from audit.commands.image_options import audit_images, image_options, used_image_options, wants_image_run
from audit.errors import EXIT_GATE_FAILED, EXIT_OK, AuditError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REPORTS = REPO_ROOT / "reports" if (REPO_ROOT / "pyproject.toml").is_file() else Path("reports")
MSG_MODEL_MISSING = "model not found: no such folder"
VERSIONED = ("numpy", "pandas", "scikit-learn", "fairlearn", "scipy", "jinja2", "tensorflow", "keras")


def _versions(with_tf: bool) -> dict:
    out = {"python": platform.python_version(), "audit": __version__}
    for name in VERSIONED:
        if name in ("tensorflow", "keras") and not with_tf:
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@click.command("run")
@click.option("--predictions", "predictions", metavar="FILE|GLOB",
              help="Audit this predictions file (.npz, .csv, .parquet; a quoted glob merges shards) "
                   "instead of the saved seed model.")
@click.option("--group-col", "group_cols", multiple=True, metavar="NAME",
              help="Group column to measure disparity over (repeatable).")
@click.option("--calibration-set", type=click.Path(dir_okay=False), metavar="FILE",
              help="Predictions held out from the audit set, to fit the temperature on "
                   "(default: a seeded 2-fold cross-fit on the audit set).")
@click.option("--model", "model_dir", type=click.Path(), metavar="DIR|FILE.keras",
              help="Saved model folder from `audit train` (default: models/cifar10-seed), or the .keras "
                   "file of any Keras 3 classifier (with an image folder or manifest as --data).")
@click.option("--data", metavar="PATH", help="CIFAR-10 folder or .tar.gz (default: $AUDIT_DATA, else Keras's "
              "downloader); or a folder with one subfolder of images per class; or a .csv/.parquet manifest "
              "with columns path and label.")
@image_options
@click.option("--checklist", type=click.Path(dir_okay=False), metavar="FILE", help="Ethics checklist answers (TOML).")
@click.option("--policy", type=click.Path(dir_okay=False), metavar="FILE",
              help="Release policy (TOML). With it, exit 1 when a rule fails; without it the verdict "
                   "against the default policy is informational.")
@click.option("--baseline", type=click.Path(), metavar="PATH",
              help="A previous audit.json, or previous predictions on the same test set (matched by sample id).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Output folder (default: reports/<run name>/).")
@click.option("--name", "run_name", metavar="NAME", help="Run name (default: the model or file name).")
@click.option("--no-images", is_flag=True, help="Leave image thumbnails out of the report (e.g. for faces).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of the bootstrap and the cross-fit.")
@click.option("--bootstrap", "n_bootstrap", default=200, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap resamples for the ECE interval (0 turns it off).")
@click.option("--reproducible", is_flag=True, help="Leave out the timestamp: same inputs give byte-identical audit.json.")
@click.option("--batch-size", default=512, show_default=True, type=click.IntRange(min=1), help="Inference batch size.")
@click.option("--stream/--no-stream", default=None,
              help="Read --predictions in chunks and merge per-chunk accumulators: memory bounded by "
                   "--chunk-rows whatever N (default: on above 2,000,000 rows). Streamed audits have a "
                   "sketched adaptive ECE and no image slices, thumbnails or predictions baselines.")
@click.option("--chunk-rows", default=1_000_000, show_default=True, type=click.IntRange(min=1),
              help="Rows read at once when streaming (the cross-fit's random split depends on it).")
@click.option("--dask", "dask_scheduler", metavar="ADDRESS|local[:N]",
              help="Stream --predictions shards on Dask, one task per shard: a scheduler address "
                   "(tcp://host:8786) or local:N for N local worker processes. Implies --stream.")
def run(predictions, group_cols, calibration_set, model_dir, data, checklist, policy, baseline, out_dir,
        run_name, no_images, seed, n_bootstrap, reproducible, batch_size, stream, chunk_rows, dask_scheduler,
        **image_opts):
    """Audit a model and write audit.json, report.html, summary.md and junit.xml.

    \b
    Examples:
      audit run                                   # the seed model (trained first if missing)
      audit run --predictions preds.npz --group-col region --policy audit-policy.toml
      audit run --predictions 'shards/*.parquet' --checklist audit-checklist.toml
    """
    from audit.gate.checklist import load_checklist
    from audit.engine.build import build_result, summarize
    from audit.gate.policy import default_policy, load_policy
    from audit.sources import expand_sources, sha256_file

    # Read the small files first: a typo in the policy must not cost a training run.
    answers = load_checklist(checklist) if checklist else None
    rules = load_policy(policy) if policy else default_policy()

    provenance: dict = {"settings": {"seed": seed, "n_bootstrap": n_bootstrap, "images": not no_images,
                                     "group_cols": list(group_cols)}}
    result = None
    image_run = None
    if predictions and any(image_opts.values()):
        raise click.UsageError(f"{', '.join(used_image_options(image_opts))} apply to --model with image data")
    if predictions:
        if model_dir or data:
            raise click.UsageError("--predictions audits a file; --model and --data are for the saved model")
        from audit.engine.distributed import audit_sources, should_stream

        if dask_scheduler and stream is False:
            raise click.UsageError("--dask streams the predictions; it cannot be combined with --no-stream")
        sources = expand_sources(predictions)
        streaming = bool(dask_scheduler) or should_stream(sources, stream)
        if streaming and baseline and (Path(baseline).is_dir() or Path(baseline).suffix.lower() in
                                       (".npz", ".csv", ".parquet", ".pq")):
            raise click.UsageError("a predictions baseline is matched sample by sample in memory; with "
                                   "--stream or --dask compare against a previous audit.json, or use --no-stream")
        pred, calibration, cal_source, name = _from_file(sources, group_cols, calibration_set, stream=streaming)
        # on Dask the workers hash the shards (the client may not see the files)
        provenance["predictions_sha256"] = None if dask_scheduler else {str(p): sha256_file(p) for p in sources}
        provenance["model_sha256"] = None
        provenance["data_sha256"] = None
        run_info = {"name": run_name or name, "model_name": name, "source": "predictions", "seed": seed}
        with_tf = False
        if streaming:
            provenance["settings"]["chunk_rows"] = chunk_rows
            provenance["versions"] = _versions(with_tf)
            result = audit_sources(sources, dask=dask_scheduler, hash_sources=bool(dask_scheduler),
                                   group_cols=group_cols, chunk_rows=chunk_rows, calibration=calibration,
                                   calibration_source=cal_source, seed=seed, n_bootstrap=n_bootstrap,
                                   run=run_info, provenance=provenance)
    elif wants_image_run(model_dir, data, image_opts):
        if calibration_set or stream is not None or dask_scheduler:
            raise click.UsageError("--calibration-set, --stream and --dask apply to --predictions files; "
                                   "with image data use --calibration-data")
        image_run = audit_images(model_dir, data, group_cols, batch_size, image_opts)
        pred, calibration, cal_source, name = (image_run.pred, image_run.calibration,
                                               image_run.calibration_source, image_run.name)
        provenance["settings"].update(image_run.provenance.pop("settings"))
        provenance.update(image_run.provenance, predictions_sha256=None)
        run_info = {"name": run_name or name, "model_name": name, "source": "model", "seed": seed}
        with_tf = True
    else:
        if group_cols or calibration_set:
            raise click.UsageError("--group-col and --calibration-set apply to --predictions files")
        if stream is not None or dask_scheduler:
            raise click.UsageError("--stream, --no-stream and --dask apply to --predictions files")
        pred, calibration, cal_source, name, model_prov = _from_model(model_dir, data, no_images, batch_size)
        provenance.update(model_prov)
        provenance["predictions_sha256"] = None
        run_info = {"name": run_name or name, "model_name": name, "source": "model", "seed": seed}
        with_tf = True
    provenance["versions"] = _versions(with_tf)

    if result is None:
        result = build_result(pred, calibration=calibration, calibration_source=cal_source, seed=seed,
                              n_bootstrap=n_bootstrap, images=not no_images, run=run_info,
                              provenance=provenance,
                              image_properties=image_run.image_properties if image_run else None)
    if image_run is not None and not no_images:
        from audit.model.image_audit import attach_thumbnails
        attach_thumbnails(result, image_run.root)
    if not reproducible:
        result["generated_at"] = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()

    out = Path(out_dir) if out_dir else DEFAULT_REPORTS / _safe_name(run_info["name"])
    written = finish(result, answers=answers, rules=rules, informational=policy is None,
                     baseline=baseline, current_pred=pred, out_dir=out)
    from audit.gate.verdict import verdict_line

    click.echo(summarize(result))
    click.echo(f"  {verdict_line(result['gate'])}")
    click.echo(f"  report: {written['report.html']}")
    gate_failed = policy is not None and not result["gate"]["passed"]
    click.get_current_context().exit(EXIT_GATE_FAILED if gate_failed else EXIT_OK)


def finish(result: dict, *, answers, rules, informational: bool, baseline, current_pred,
           out_dir: Path) -> dict[str, Path]:
    """Add checklist, baseline and verdict to ``result``; write every file as a set; return their paths."""
    from audit.gate.checklist import checklist_section
    from audit.result.write import dump_json, write_outputs
    from audit.render.html import render_html
    from audit.render.junit import render_junit
    from audit.render.markdown import render_markdown
    from audit.gate.verdict import evaluate

    result["checklist"] = checklist_section(answers)
    if baseline:
        from audit.gate.baseline import compare
        result["baseline"] = compare(result, baseline, current_pred=current_pred)
    else:
        result["baseline"] = None
    result["gate"] = evaluate(result, rules, informational=informational)
    files = {
        "audit.json": dump_json(result),
        "report.html": render_html(result),
        "summary.md": render_markdown(result),
        "junit.xml": render_junit(result["gate"]),
    }
    return {path.name: path for path in write_outputs(out_dir, files)}


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".-")
    return keep or "audit"


def _from_file(sources, group_cols, calibration_set, *, stream=False):
    """Predictions of the expanded ``sources`` (None with ``stream``: they are read later, chunk by
    chunk), calibration set, its description and the run name."""
    from audit.sources import load_predictions

    pred = None
    if len(sources) == 1:
        name = sources[0].stem
        if not stream:
            pred = load_predictions(sources[0], group_cols=group_cols)
    else:
        from audit.sources import load_shards
        name = sources[0].parent.name or "shards"
        if not stream:
            pred = load_shards(sources, group_cols=group_cols)
    calibration, cal_source = None, None
    if calibration_set:
        calibration = load_predictions(calibration_set, group_cols=())
        if stream:
            from audit.engine.distributed import peek_layout
            class_names = peek_layout(sources[0], group_cols=group_cols)[0]
        else:
            class_names = pred.class_names
        if calibration.class_names != class_names:
            raise AuditError(
                f"calibration set classes {list(calibration.class_names)} differ from the audit set's "
                f"{list(class_names)}", path=calibration_set)
        cal_source = f"calibration set {calibration_set}"
    return pred, calibration, cal_source, name


def _from_model(model_dir, data, no_images, batch_size):
    from audit.model.artifacts import default_model_dir, load_model, read_manifest
    from audit.model.data import load_cifar10, resolve_data_path
    from audit.model.predict import cifar10_predictions

    given = model_dir is not None
    model_dir = Path(model_dir) if given else default_model_dir()
    dataset = load_cifar10(resolve_data_path(data))
    if model_dir.exists() and not model_dir.is_dir():
        raise AuditError("--model takes a model folder written by `audit train`; got a file", path=model_dir,
                         hint="pass the folder that holds it")
    if given and not model_dir.exists():
        raise AuditError(MSG_MODEL_MISSING, path=model_dir,
                         hint="train one with `audit train --out DIR`, or leave --model out to audit the seed model")
    if model_dir.exists() and not (model_dir / "manifest.json").exists():
        raise AuditError("not a saved model folder (no manifest.json)", path=model_dir,
                         hint="point --model at the folder `audit train` wrote")
    if not (model_dir / "manifest.json").exists():
        click.echo(f"audit: no saved model in {model_dir}; training the seed network first "
                   "(20 epochs, about 6 minutes on 2 cores)", err=True)
        from audit.model.train import train
        train(dataset, out_dir=model_dir)
    manifest = read_manifest(model_dir)
    model = load_model(model_dir)
    common = {"batch_size": batch_size, "model": model}
    pred = cifar10_predictions(model_dir, dataset, split="test", images=not no_images, **common)
    calibration = cifar10_predictions(model_dir, dataset, split="validation", images=False, **common)
    prov = {
        "model_sha256": manifest.get("artifacts", {}),
        "data_sha256": dataset.files,
        "model_dir": str(model_dir),
        "training": {
            "seed": manifest.get("seed"),
            "limit": manifest.get("limit"),
            "hyperparameters": manifest.get("hyperparameters"),
            "test": manifest.get("test"),
            "mean_seconds_per_epoch": manifest.get("mean_seconds_per_epoch"),
            "n_train": (manifest.get("dataset") or {}).get("n_train"),
        },
    }
    name = model_dir.name if model_dir.name != "" else "model"
    return pred, calibration, "validation split of the training run", name, prov
