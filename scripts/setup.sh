#!/usr/bin/env bash
# Create .venv (once) and install the locked dependencies plus this project. Idempotent and quiet:
# re-running it with an unchanged requirements.lock does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version 2>&1)" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.audit-lock.sha256
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing locked dependencies (requirements.lock) into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
