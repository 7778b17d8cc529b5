"""``audit predict``: run a classifier (.keras, .onnx) on image files and write the predictions interchange file."""

from __future__ import annotations

from pathlib import Path

import click

from audit.commands.image_options import audit_images, image_options, wants_image_run
from audit.commands.options import batch_size_option, data_option, model_option, out_option
from audit.errors import AuditError

OUT_FORMATS = (".npz", ".parquet", ".pq", ".csv")


@click.command("predict")
@model_option(required=True, metavar="FILE.keras|FILE.onnx|DIR",
              help="The .keras file of a Keras 3 classifier, an .onnx model (run with onnxruntime), or a model "
                   "folder written by `audit train`.")
@data_option(required=True)
@out_option(kind="file", required=True, help="The predictions file to write: .npz or .parquet (or .csv).")
@click.option("--group-col", "group_cols", multiple=True, metavar="NAME",
              help="Metadata column to include as a group (repeatable; default: all of them).")
@batch_size_option()
@click.option("--dask", "dask_scheduler", metavar="ADDRESS|local[:N]",
              help="Decode and predict on Dask: a scheduler address (tcp://host:8786) or local:N for N local "
                   "worker processes; workers read the model and images under the same paths (docs/scale.md).")
@image_options(calibration=False)
def predict(model, data, out, group_cols, batch_size, dask_scheduler, **image_opts):
    """Write the model's class probabilities on labelled images as a predictions file.

    Sample ids are the image paths relative to the data folder; metadata columns become group
    columns. `audit run --predictions FILE` then audits the file without TensorFlow, and records the
    model's and the images' SHA-256 from FILE.provenance.json, written beside it.

    \b
    Example:
      audit predict --model net.keras --data images/ --metadata meta.csv --out preds.parquet
    """
    if Path(out).suffix.lower() not in OUT_FORMATS:
        raise click.UsageError(f"--out must end in {', '.join(OUT_FORMATS)}; got {Path(out).name!r}")
    if not Path(data).exists():
        raise AuditError("image data not found", path=data)
    wants_image_run(model, data, image_opts)
    from audit.commands.run import _model_cluster

    if dask_scheduler:
        from audit.engine.distributed import parse_dask_spec

        parse_dask_spec(dask_scheduler)
    with _model_cluster(dask_scheduler) as client:
        run = audit_images(model, data, group_cols, batch_size, image_opts, client=client)
    from audit.model.image_audit import predict_provenance
    from audit.sources import save_with_provenance, sidecar_path

    path = save_with_provenance(out, run.pred, predict_provenance(run))
    outputs = run.provenance["images"]["outputs"]
    click.echo(f"audit: wrote {run.pred.n_samples} predictions over {run.pred.n_classes} classes "
               f"({', '.join(run.pred.groups) or 'no'} group columns; model outputs: {outputs.split(' ')[0]}) "
               f"to {path} (provenance: {sidecar_path(path).name})")
