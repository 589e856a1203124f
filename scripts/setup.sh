#!/usr/bin/env bash
# Create .venv and install odbridge with every extra and its development tools. Idempotent
# and quick when nothing changed: it reinstalls only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "odbridge needs Python 3.11 or newer; $PY is $("$PY" --version 2>&1)." >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]' \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  rm -f .venv/.installed-*
  touch "$stamp"
fi
