"""``audit predict``: run a Keras classifier on image files and write the predictions interchange file."""

from __future__ import annotations

from pathlib import Path

import click

from audit.commands.image_options import audit_images, image_options, wants_image_run
from audit.errors import AuditError

OUT_FORMATS = (".npz", ".parquet", ".pq", ".csv")


@click.command("predict")
@click.option("--model", "model", required=True, type=click.Path(), metavar="FILE.keras|DIR",
              help="The .keras file of a Keras 3 classifier, or a model folder written by `audit train`.")
@click.option("--data", required=True, metavar="PATH",
              help="A folder with one subfolder of images per class, or a .csv/.parquet manifest with "
                   "columns path and label.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The predictions file to write: .npz or .parquet (or .csv).")
@click.option("--group-col", "group_cols", multiple=True, metavar="NAME",
              help="Metadata column to include as a group (repeatable; default: all of them).")
@click.option("--batch-size", default=512, show_default=True, type=click.IntRange(min=1), help="Inference batch size.")
@image_options(calibration=False)
def predict(model, data, out, group_cols, batch_size, **image_opts):
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
    run = audit_images(model, data, group_cols, batch_size, image_opts)
    from audit.model.image_audit import predict_provenance
    from audit.sources import save_with_provenance, sidecar_path

    path = save_with_provenance(out, run.pred, predict_provenance(run))
    outputs = run.provenance["images"]["outputs"]
    click.echo(f"audit: wrote {run.pred.n_samples} predictions over {run.pred.n_classes} classes "
               f"({', '.join(run.pred.groups) or 'no'} group columns; model outputs: {outputs.split(' ')[0]}) "
               f"to {path} (provenance: {sidecar_path(path).name})")
