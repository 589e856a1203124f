# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
.PHONY: demo test fuzz setup lint bench clean

# make demo PORT=8001 SIM_PORT=8781 when the default ports are taken
demo: setup
	.venv/bin/odbridge demo $(if $(PORT),--port $(PORT)) $(if $(SIM_PORT),--simulator-port $(SIM_PORT))

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
