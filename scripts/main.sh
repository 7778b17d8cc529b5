#!/usr/bin/env bash
# The main job from a fresh clone: set up .venv, then `audit run` — which trains the seed network
# first when no saved model exists — and write reports/cifar10-seed/{audit.json,report.html,summary.md}.
# Data: --data/AUDIT_DATA if given; else the shared copy beside the repo if present; else Keras's
# downloader (needs internet). Extra arguments go to `audit run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${AUDIT_DATA:-}" ] && [ -f ../shared/datasets/cifar-10-binary.tar.gz ]; then
  export AUDIT_DATA=../shared/datasets/cifar-10-binary.tar.gz
fi
exec .venv/bin/audit run "$@"
