"""Options shared by several commands, declared once (as mlflow's ``cli_args``): name, parameter, type, help
and validation cannot drift between the commands that take them. Each is a decorator, or a factory of one
where commands differ only in help text, default or whether the option is required."""

from __future__ import annotations

from pathlib import Path

import click

DB_HELP = ("History database: a SQLAlchemy URL (sqlite:///PATH, postgresql+psycopg://USER@HOST/DB) or a "
           "SQLite file path (default: $AUDIT_DB, else audit-history.sqlite in the reports folder).")

#: ``--db URL``: the history database (resolved once by :func:`audit.history.history_url`).
db_option = click.option("--db", "db", metavar="URL", help=DB_HELP)


def no_record_option(what: str = "this run"):
    """``--no-record``: do not write ``what`` to the history database."""
    return click.option("--no-record", is_flag=True, help=f"Do not record {what} in the history database.")


def batch_size_option(default: int = 512, help: str = "Inference batch size."):
    """``--batch-size N`` (at least 1)."""
    return click.option("--batch-size", "batch_size", default=default, show_default=True,
                        type=click.IntRange(min=1), help=help)


def model_option(*, required: bool = False, param: str = "model", metavar: str = "FILE.keras|DIR",
                 help: str = "The .keras file of a Keras 3 classifier, or a model folder written by `audit train`."):
    """``--model``: the model to run (a path; what it may be is the command's to check)."""
    return click.option("--model", param, required=required, type=click.Path(), metavar=metavar, help=help)


def data_option(*, required: bool = False, param: str = "data",
                help: str = "A folder with one subfolder of images per class, or a .csv/.parquet manifest "
                            "with columns path and label."):
    """``--data PATH``: the images (or CIFAR-10) the model runs on."""
    return click.option("--data", param, required=required, metavar="PATH", help=help)


def out_option(*, kind: str = "dir", param: str = "out", required: bool = False, default=None,
               show_default: bool = False, help: str):
    """``--out``: a folder (``kind="dir"``) or a file (``kind="file"``) to write."""
    path = (click.Path(file_okay=False, path_type=Path) if kind == "dir"
            else click.Path(dir_okay=False, path_type=Path))
    return click.option("--out", param, type=path, required=required, default=default, show_default=show_default,
                        metavar="DIR" if kind == "dir" else "FILE", help=help)


def policy_option(*, required: bool = False, param: str = "policy",
                  help: str = "Release policy (TOML). With it, exit 1 when a rule fails; without it the "
                              "verdict against the default policy is informational."):
    """``--policy FILE``: the release policy."""
    return click.option("--policy", param, required=required, type=click.Path(dir_okay=False, path_type=Path),
                        metavar="FILE", help=help)


def checklist_option(*, param: str = "checklist", help: str = "Ethics checklist answers (TOML)."):
    """``--checklist FILE``: the team's checklist answers and model card."""
    return click.option("--checklist", param, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                        help=help)


def explanation_options(func):
    """``--explain-layer NAME`` and ``--no-explanations``: the saliency maps of the gallery of confident mistakes."""
    func = click.option("--no-explanations", "no_explanations", is_flag=True,
                        help="Leave the saliency maps (and their sanity checks) out of the gallery.")(func)
    return click.option("--explain-layer", "explain_layer", metavar="NAME",
                        help="The Keras layer Grad-CAM explains (default: the last layer with a 4-D output, Dropout-like layers skipped); "
                             "models without one, ONNX models and callables get occlusion maps.")(func)
