# The two README commands: `make demo` and `make test`. Each creates .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench clean install catalog

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install whenever pyproject.toml changes; editable so the tree is what runs.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python scripts/demo.py

lint: install
	$(BIN)/ruff check reconciler providers scripts benchmarks
	$(BIN)/lint-imports

# Starts PostgreSQL on 127.0.0.1 for the suite, runs pytest, always stops it.
test: install lint
	@set -e; pgdir=$$(mktemp -d /tmp/authctl-pg.XXXXXX); chmod 755 $$pgdir; \
	trap 'scripts/postgres.sh stop '$$pgdir EXIT; \
	url=$$(scripts/postgres.sh start $$pgdir); \
	AUTHCTL_TEST_PG_URL=$$url $(BIN)/python -m pytest $(PYTEST_ARGS)

# After editing providers/*.yaml: refresh the precompiled catalog (a test checks it is current).
catalog: install
	$(BIN)/python scripts/compile_catalog.py

bench: install
	$(BIN)/python benchmarks/validate_scale.py
	$(BIN)/python benchmarks/snapshot_scale.py
	$(BIN)/python benchmarks/plan_scale.py
	$(BIN)/python benchmarks/apply_scale.py
	$(BIN)/python benchmarks/startup.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
