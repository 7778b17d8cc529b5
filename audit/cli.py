"""The ``audit`` command: a click group whose sub-commands live in ``audit/commands/`` and load lazily.

Lazy loading keeps ``audit --help`` and ``audit run --predictions`` free of TensorFlow's import cost.
Every command reports bad input as one line on stderr and exit code 2; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import gc
import importlib
import sys

import click

from audit import __version__
from audit.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, AuditError

#: command name -> (module, attribute, one-line help)
COMMANDS = {
    "train": ("audit.commands.train", "train", "Train and save the seed CIFAR-10 network."),
    "run": ("audit.commands.run", "run", "Audit a model or a predictions file; write the report."),
    "predict": ("audit.commands.predict", "predict",
                "Run a Keras classifier on image files; write a predictions file."),
    "gate": ("audit.commands.gate", "gate", "Re-evaluate a stored audit.json against a policy."),
    "checklist": ("audit.commands.checklist", "checklist", "Work with the ethics checklist file."),
    "policy": ("audit.commands.policy", "policy", "Work with the release policy file."),
    "history": ("audit.commands.history", "history", "List recorded runs; `history show ID` prints one."),
    "sign": ("audit.commands.sign", "sign", "Sign the report of a recorded run (reviewer, role, time)."),
    "release": ("audit.commands.release", "release", "Mark a recorded run as released."),
    "db": ("audit.commands.db", "db", "Manage the history database (`db upgrade`)."),
}


class LazyGroup(click.Group):
    """A group that imports a sub-command's module only when that command is used."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="audit", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def app(ctx: click.Context, debug: bool) -> None:
    """Audit an image classifier before release: per-class errors, calibration, disparity,
    the ethics checklist, and a pass/fail verdict for CI.

    Exit codes: 0 success (or gate passed), 1 release gate failed, 2 bad input or the audit could
    not be completed, 130 interrupted.
    """
    ctx.obj = {"debug": debug}


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``argv`` None: ``sys.argv``, and the process ends when it returns)."""
    try:
        _main(argv)
    finally:
        if argv is None:
            # the process ends now: frozen, the objects of the libraries it imported (pandas, SciPy,
            # scikit-learn) are not walked once more by the garbage collector at shutdown (0.1 s)
            gc.freeze()


def _main(argv: list[str] | None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = app.main(args=argv, prog_name="audit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("audit: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("audit: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as exc:  # one line, like every other error; the help is one command away
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"audit: error: {exc.format_message()}{where}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_BAD_INPUT if exc.exit_code not in (0, 1) else exc.exit_code)
    except AuditError as exc:
        if debug:
            raise
        click.echo(f"audit: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # fail closed: never exit 0 on an internal error
        if debug:
            raise
        click.echo(f"audit: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", err=True)
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(code if isinstance(code, int) else 0)
