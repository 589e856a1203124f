#!/usr/bin/env bash
# The whole test suite: lint, types, then every test (unit, integration, postgres, browser).
# A skipped test fails the run (see tests/conftest.py): CI must really exercise everything.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL at 127.0.0.1:5432 must be up: the postgres tests run for real.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi

# Debian's Chromium for the browser tests (a test tool's own browser download does not work
# on a closed network; the tests drive /usr/bin/chromium through Playwright).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (apt)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "== ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
echo "== mypy"
.venv/bin/mypy
echo "== layers (import-linter; contracts in pyproject.toml)"
.venv/bin/lint-imports --no-cache
echo "== bandit"
.venv/bin/bandit -r src -q
echo "== pytest"
# two workers (pytest-xdist): most tests wait on HTTP, PostgreSQL or a process they started;
# a file's tests stay on one worker (module fixtures: one browser, one dashboard per file);
# files go out in collection order, so the many short unit tests come last and fill in
# beside the long integration files instead of leaving one worker idle at the end
.venv/bin/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15 "$@"
