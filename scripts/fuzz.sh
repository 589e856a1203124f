#!/usr/bin/env bash
# The randomised fuzz run: the suite's Hypothesis and schemathesis properties with fresh random
# examples (ten times as many as `make test`, which always draws the same ones). It prints every
# input that broke a property with the line that reproduces it; exit 1 if it found any.
#   scripts/fuzz.sh                 # all fuzz properties
#   ODBRIDGE_FUZZ_SCALE=50 scripts/fuzz.sh tests/integration/test_dashboard_fuzz.py
set -uo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(grep -rl --include='test_*.py' '@given' tests | sort)
fi
export HYPOTHESIS_PROFILE=fuzz
export ODBRIDGE_FUZZ_SCALE="${ODBRIDGE_FUZZ_SCALE:-10}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== fuzz: ${targets[*]} (x${ODBRIDGE_FUZZ_SCALE} examples, random seed)"
.venv/bin/pytest -q -p no:randomly -p no:cacheprovider --timeout=1800 --tb=short \
  --hypothesis-show-statistics "${targets[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

echo
if [ "$status" -eq 0 ]; then
  echo "== fuzz: nothing found"
else
  echo "== fuzz: found (falsifying examples; add the @reproduce_failure line to replay one):"
  grep -E '^(FAILED|Falsifying example|E  |@reproduce_failure|You can reproduce)|^    [a-z_]+=' "$log" \
    | sort -u || true
fi
exit "$status"
