# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
.PHONY: demo test fuzz setup lint bench clean

demo: setup
	.venv/bin/odbridge demo

test: setup
	bash scripts/test.sh

# Randomised property and schema fuzzing (not part of `make test`, which is deterministic).
fuzz: setup
	bash scripts/fuzz.sh

setup:
	bash scripts/setup.sh

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports --no-cache
	.venv/bin/bandit -r src -q

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache build dist
