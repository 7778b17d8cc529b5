"""``audit run``: parse the options, call :func:`audit.run_audit`, print, set the exit code."""

from __future__ import annotations

import click

from audit.commands.image_options import image_options, used_image_options, wants_image_run
from audit.commands.robustness_options import robustness_options
from audit.errors import EXIT_GATE_FAILED, EXIT_OK, OptionConflict
from audit.commands.options import (
    batch_size_option,
    checklist_option,
    data_option,
    db_option,
    explanation_options,
    model_option,
    no_record_option,
    out_option,
    policy_option,
)

MSG_PREDICTIONS_VS_MODEL = "--predictions audits a file; --model and --data are for the saved model"
MSG_FILE_ONLY = "--group-col and --calibration-set apply to --predictions files"
MSG_STREAM_FILE_ONLY = "--stream and --no-stream apply to --predictions files"
MSG_IMAGE_FILE_ONLY = ("--calibration-set and --stream apply to --predictions files; with image data use "
                       "--calibration-data")
MSG_IMAGE_OPTIONS = "{options} apply to --model with image data"
MSG_RELEASED_IMAGES = ("--corruption-data holds the released CIFAR-10-C arrays; it applies to the CIFAR-10 test "
                       "set, not to image folders")


@click.command("run")
@click.option("--predictions", "predictions", metavar="FILE|GLOB",
              help="Audit this predictions file (.npz, .csv, .parquet; a quoted glob merges shards) "
                   "instead of the saved seed model.")
@click.option("--group-col", "group_cols", multiple=True, metavar="NAME",
              help="Group column to measure disparity over (repeatable).")
@click.option("--calibration-set", type=click.Path(dir_okay=False), metavar="FILE",
              help="Predictions held out from the audit set, to fit the temperature on "
                   "(default: a seeded 2-fold cross-fit on the audit set).")
@model_option(param="model_dir", metavar="DIR|FILE.keras|FILE.onnx",
              help="Saved model folder from `audit train` (default: models/cifar10-seed), or the .keras "
                   "file of any Keras 3 classifier, or an .onnx file (run with onnxruntime; the 'onnx' extra), "
                   "with an image folder or manifest as --data.")
@data_option(help="CIFAR-10 folder or .tar.gz (default: $AUDIT_DATA, else Keras's downloader); or a folder with "
                  "one subfolder of images per class; or a .csv/.parquet manifest with columns path and label.")
@image_options
@checklist_option()
@policy_option()
@click.option("--baseline", type=click.Path(), metavar="PATH|released|ID",
              help="A previous audit.json, or previous predictions on the same test set (matched by sample id); "
                   "or from the history: `released` (the last released run of this model) or a run ID.")
@out_option(param="out_dir", help="Output folder (default: reports/<run name>/).")
@click.option("--name", "run_name", metavar="NAME", help="Run name (default: the model or file name).")
@click.option("--no-images", is_flag=True, help="Leave image thumbnails out of the report (e.g. for faces).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of the bootstrap and the cross-fit.")
@click.option("--bootstrap", "n_bootstrap", default=200, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap resamples for the ECE interval (0 turns it off).")
@click.option("--reproducible", is_flag=True, help="Leave out the timestamp: same inputs give byte-identical audit.json.")
@batch_size_option()
@click.option("--stream/--no-stream", default=None,
              help="Read --predictions in chunks and merge per-chunk accumulators: memory bounded by "
                   "--chunk-rows whatever N (default: on above 2,000,000 rows). Streamed audits have a "
                   "sketched adaptive ECE and no image slices, thumbnails or predictions baselines.")
@click.option("--chunk-rows", default=1_000_000, show_default=True, type=click.IntRange(min=1),
              help="Rows read at once when streaming (the cross-fit's random split depends on it).")
@click.option("--dask", "dask_scheduler", metavar="ADDRESS|local[:N]",
              help="Run on Dask: a scheduler address (tcp://host:8786) or local:N for N local worker "
                   "processes. With --predictions: one task per shard (implies --stream). With --model: the "
                   "images are decoded and predicted on the workers, and each robustness cell is a task; "
                   "workers read the model and images under the same paths (docs/scale.md).")
@robustness_options
@explanation_options
@db_option
@no_record_option()
def run(predictions, group_cols, calibration_set, model_dir, data, checklist, policy, baseline, out_dir,
        run_name, no_images, seed, n_bootstrap, reproducible, batch_size, stream, chunk_rows, dask_scheduler,
        corruptions, severities, corruption_samples, corruption_data, explain_layer, no_explanations, db, no_record,
        **image_opts):
    """Audit a model and write audit.json, report.html, summary.md and junit.xml.

    \b
    Examples:
      audit run                                   # the seed model (trained first if missing)
      audit run --predictions preds.npz --group-col region --policy audit-policy.toml
      audit run --predictions 'shards/*.parquet' --checklist audit-checklist.toml
    """
    from audit.gate.checklist import load_checklist
    from audit.gate.policy import load_policy
    from audit.history import history_url
    from audit.paths import default_out_dir
    from audit.pipeline import run_audit

    image_run = check_conflicts(predictions=predictions, model_dir=model_dir, data=data, group_cols=group_cols,
                                calibration_set=calibration_set, stream=stream, dask=dask_scheduler,
                                image_opts=image_opts)
    history = history_url(db)  # the history database: the report's trend, --baseline released|ID, recording
    # Read the small files first: a typo in the policy must not cost a training run.
    answers = load_checklist(checklist) if checklist else None
    rules = load_policy(policy) if policy else None
    from audit.commands import robustness_options as robust

    if image_run and corruption_data:  # before the model runs on every image
        raise click.UsageError(MSG_RELEASED_IMAGES)
    if explain_layer is not None and (predictions or no_explanations):  # before anything is read
        from audit.pipeline import MSG_LAYER_WITHOUT_EXPLANATIONS, MSG_LAYER_WITHOUT_MODEL

        raise click.UsageError(MSG_LAYER_WITHOUT_EXPLANATIONS if no_explanations else MSG_LAYER_WITHOUT_MODEL)

    # on by default for the saved CIFAR-10 model; on image files only when asked (--corruptions): their size
    # and cost are the team's, and the corruption parameters are the 32-px ones scaled (docs/images.md)
    robustness = robust.settings(corruptions=corruptions if corruptions is not None or not image_run else (),
                                 severities=severities, corruption_samples=corruption_samples,
                                 corruption_data=corruption_data, predictions=bool(predictions))
    model_on_dask = bool(dask_scheduler) and not predictions
    with _model_cluster(dask_scheduler if model_on_dask else None) as client:  # connected before any work
        if predictions:
            source = predictions
        elif image_run:
            from audit.commands.image_options import audit_images
            from audit.model.image_audit import image_source

            source = image_source(audit_images(model_dir, data, group_cols, batch_size, image_opts, client=client),
                                  thumbnails=not no_images)
        else:
            from audit.model.source import saved_model_source

            source = saved_model_source(model_dir, data, images=not no_images, batch_size=batch_size,
                                        notify=lambda line: click.echo(line, err=True), client=client)
        try:
            result = run_audit(source, group_cols=group_cols, calibration=calibration_set, policy=rules,
                               checklist=answers, baseline=baseline, seed=seed, n_bootstrap=n_bootstrap,
                               images=not no_images, name=run_name, reproducible=reproducible, stream=stream,
                               chunk_rows=chunk_rows, dask=None if model_on_dask else dask_scheduler,
                               history=history, robustness=robustness, explanations=not no_explanations,
                               explain_layer=explain_layer,
                               notify=lambda line: click.echo(line, err=True))
        except OptionConflict as exc:
            raise click.UsageError(exc.message) from None
    written = result.save(out_dir or default_out_dir(result.data["run"]["name"]))
    click.echo(result.summary())
    click.echo(f"  report: {written['report.html']}")
    if not no_record:
        from audit.history.engine import display_url

        click.echo(f"  recorded: run #{result.record(history, saved=written)} in {display_url(history)}")
    gate_failed = policy is not None and not result.passed
    click.get_current_context().exit(EXIT_GATE_FAILED if gate_failed else EXIT_OK)


def check_conflicts(*, predictions, model_dir, data, group_cols, calibration_set, stream, dask,
                    image_opts) -> bool:
    """Options that belong to another kind of source: a usage error before anything is read. Returns
    whether the model runs on image files (a .keras file, an image folder or manifest, image options)."""
    if predictions:
        if model_dir or data:
            raise click.UsageError(MSG_PREDICTIONS_VS_MODEL)
        if any(image_opts.values()):
            raise click.UsageError(MSG_IMAGE_OPTIONS.format(options=", ".join(used_image_options(image_opts))))
        return False
    if dask:
        from audit.engine.distributed import parse_dask_spec

        parse_dask_spec(dask)  # a malformed --dask refused before the model is opened
    if wants_image_run(model_dir, data, image_opts):
        if calibration_set or stream is not None:
            raise click.UsageError(MSG_IMAGE_FILE_ONLY)
        return True
    if group_cols or calibration_set:
        raise click.UsageError(MSG_FILE_ONLY)
    if stream is not None:
        raise click.UsageError(MSG_STREAM_FILE_ONLY)
    return False


def _model_cluster(spec: str | None):
    """The Dask client of a model audit (:func:`audit.engine.distributed.dask_client`), or None."""
    import contextlib

    if spec is None:
        return contextlib.nullcontext(None)
    from audit.engine.distributed import dask_client

    return dask_client(spec)
