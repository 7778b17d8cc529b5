"""Options shared by ``audit run`` and ``audit predict`` for a model (.keras, .onnx) on image files, and their checks.

Kept apart from ``run.py`` so the model-in-the-loop path for image folders is one call from there.
"""

from __future__ import annotations

from pathlib import Path

import click

from audit.errors import AuditError

IMAGE_OPTIONS = ("class_names", "metadata", "allow_metadata_gaps", "calibration_data", "rescale", "trust_model",
                 "model_config")
MSG_KERAS_NEEDS_IMAGES = ("a model file (.keras, .onnx) is audited on image files: give --data a folder with one subfolder "
                          "per class or a .csv/.parquet manifest (for CIFAR-10 in its binary layout, pass the "
                          "model folder written by `audit train`)")


def image_options(func=None, *, calibration: bool = True):
    """Add the image-data options to a click command (as keyword arguments named in ``IMAGE_OPTIONS``);
    ``calibration=False`` leaves out ``--calibration-data``."""
    if func is None:
        return lambda f: image_options(f, calibration=calibration)
    options = [
        click.option("--class-names", "class_names", type=click.Path(dir_okay=False), metavar="FILE",
                     help="The model's class names in output order, one per line (default: the model "
                          "config's class_names, else the sorted class folder names or manifest labels; "
                          "giving both is an error)."),
        click.option("--metadata", type=click.Path(dir_okay=False), metavar="CSV",
                     help="Per-image attributes as groups: a CSV with a 'path' column (relative to the data "
                          "folder) and one column per attribute; --group-col selects among them."),
        click.option("--allow-metadata-gaps", is_flag=True,
                     help="Count and report images without a metadata row, duplicate rows and rows naming "
                          "absent images, instead of refusing the metadata file."),
        click.option("--calibration-data", type=click.Path(), metavar="PATH",
                     help="Held-out images (same forms as --data) to fit the temperature on "
                          "(default: a seeded 2-fold cross-fit on the audit images)."),
        click.option("--rescale", metavar="SPEC",
                     help="Pixel scaling fed to the model: '1/255', 'none' (raw 0-255), '1/127.5,-1' "
                          "(scale,offset). Default: x / 255 unless the model starts with a Rescaling or "
                          "Normalization layer (then raw pixels)."),
        click.option("--trust-model", is_flag=True,
                     help="Load a model that needs Python code (Lambda layers, custom objects): Keras "
                          "safe mode off. The file's code runs: only for models you trust."),
        click.option("--model-config", "model_config", type=click.Path(dir_okay=False), metavar="FILE.toml",
                     help="How the model wants its pixels (flat TOML: layout, scale, mean, std, output, "
                          "class_names, input_size; docs/images.md). Recorded in provenance."),
    ]
    if not calibration:
        del options[IMAGE_OPTIONS.index("calibration_data")]
    for option in reversed(options):
        func = option(func)
    return func


def used_image_options(opts: dict) -> list[str]:
    """The image options given, as ``--flag`` names."""
    return ["--" + k.replace("_", "-") for k in IMAGE_OPTIONS if opts.get(k)]


def wants_image_run(model, data, opts: dict) -> bool:
    """True when the model is a ``.keras`` file, the data an image folder or manifest, or an image
    option is given; then the two must fit together (checked here)."""
    from audit.model.images import is_image_data

    keras_file = model is not None and Path(model).is_file()
    images = is_image_data(data)
    if not (keras_file or images or any(opts.values())):
        return False
    if data not in (None, "") and not Path(data).exists():
        raise AuditError("image data not found", path=data)
    if not images:
        if keras_file:
            raise AuditError(MSG_KERAS_NEEDS_IMAGES, path=model)
        raise click.UsageError(f"{', '.join(used_image_options(opts))} apply to --data given as an image folder "
                               "or manifest")
    return True


def audit_images(model, data, group_cols, batch_size: int, opts: dict, client=None):
    """Run the model (.keras, .onnx, a model folder) on the image data:
    :func:`audit.model.image_audit.image_predictions` (on the Dask ``client``'s workers where given)."""
    from audit.model.artifacts import default_model_dir
    from audit.model.image_audit import image_predictions

    run = image_predictions(
        model if model is not None else default_model_dir(), data,
        class_names_file=opts.get("class_names"), metadata=opts.get("metadata"), group_cols=group_cols,
        allow_metadata_gaps=bool(opts.get("allow_metadata_gaps")), calibration_data=opts.get("calibration_data"),
        trust_model=bool(opts.get("trust_model")), rescale=opts.get("rescale"), batch_size=batch_size,
        model_config=opts.get("model_config"), client=client)
    meta = run.provenance["images"].get("metadata") or {}
    gaps = {k: meta.get(k, 0) for k in ("images_without_row", "duplicate_rows", "rows_without_image")}
    if any(gaps.values()):
        click.echo(f"audit: {meta['file']}: metadata gaps allowed and counted: "
                   + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in gaps.items()), err=True)
    return run
