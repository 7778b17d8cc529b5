"""Import TensorFlow and Keras without their start-up noise on stderr.

TensorFlow's C++ runtime logs through file descriptor 2 before its log level can be set, so the
import (and the runtime's first start) run with fd 2 captured; lines that are not TensorFlow log
lines are passed on to the real stderr afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

#: A line written by TensorFlow's or absl's C++ logging, e.g. ``I0000 00:00:17.1 123 port.cc:153] ...``.
TF_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\]"
    r"|To enable the following instructions: .* in other operations, rebuild TensorFlow"
    r"|WARNING:absl:"
    r"|oneDNN custom operations are on"
    r")"
)

_keras = None


def is_tf_noise(line: str) -> bool:
    """True when ``line`` is a TensorFlow/absl log line rather than something meant for the user."""
    return bool(TF_LOG_LINE.match(line.strip()))


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Capture file descriptor 2 inside the block; replay all but TensorFlow log lines afterwards."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (embedded interpreter): nothing to silence
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_tf_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def quiet_environment() -> None:
    """Set the environment variables that lower TensorFlow's log level (before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # absl's Python logger prints "WARNING:absl:..." when saving; keep it to errors.
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)


def import_keras():
    """Import TensorFlow and Keras quietly, start the runtime, and return the ``keras`` module.

    Later calls return the cached module at no cost.
    """
    global _keras
    if _keras is not None:
        return _keras
    quiet_environment()
    with quiet_stderr():
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        tf.autograph.set_verbosity(0)
        # Start the runtime here (device discovery logs on first use) rather than mid-training.
        tf.zeros(())
        import keras
    _keras = keras
    return keras
