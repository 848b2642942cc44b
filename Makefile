# The two README commands: `make demo` and `make test`. Each creates .venv itself.
#
# What gets installed is pinned, with hashes, in requirements/*.txt (made by `make lock` from
# pyproject.toml), so every machine and CI install the same versions:
#   runtime.txt  the dependencies + the build backend (setuptools, wheel)   -> make install
#   dev.txt      the same pins + every extra (tests, lint, PostgreSQL)     -> make demo, make test
#   uv.txt       uv itself, which installs them several times faster than pip
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench clean install install-dev catalog lock browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv goes into .venv itself (it has no dependencies, and `make clean` takes it away with the
# rest): one venv to create instead of a second one for tools. Where it cannot be installed
# (no uv wheel for this platform), pip installs the same hashed files below, only slower.
$(VENV)/.uv: requirements/uv.txt | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements/uv.txt \
	  || echo "make: uv could not be installed; pip installs the lock files instead (slower)" >&2
	touch $@

# `$(call locked_install,ARGS)`: `uv pip install ARGS`, or `pip install ARGS` without uv.
# --compile-bytecode as pip does: else every `authctl` process of the demo and the tests compiles
# pydantic, sqlalchemy, rich... again (twice as slow a demo where .pyc files are not written).
locked_install = if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python $(1); \
	else $(BIN)/pip install -q $(1); fi

# Runtime dependencies only, then the project editable so the tree is what runs. --no-deps:
# everything it needs came from the lock; --no-build-isolation: it is built by the locked
# setuptools just installed, not by a fresh, unpinned one downloaded for the build.
$(VENV)/.runtime: requirements/runtime.txt pyproject.toml | $(VENV)/.uv
	$(call locked_install,--require-hashes -r requirements/runtime.txt)
	$(call locked_install,--no-deps --no-build-isolation -e .)
	touch $@

# A separate marker, so `make demo` then `make test` only adds the dev packages (same pins).
$(VENV)/.dev: requirements/dev.txt $(VENV)/.runtime
	$(call locked_install,--require-hashes -r requirements/dev.txt)
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# `make demo DEMO_BACKEND=http`: the same story over HTTP (`authctl platform serve` + the lytics backend).
# The dev lock (same pins): the demo's OAuth login runs against the test authorization server (Flask).
DEMO_BACKEND ?= local
demo: install-dev
	$(BIN)/python scripts/demo.py --backend $(DEMO_BACKEND)

lint: install-dev
	$(BIN)/ruff check reconciler providers scripts benchmarks
	$(BIN)/lint-imports

# The dashboard's tests drive a real headless browser: Debian's chromium and its chromedriver
# (never a browser build downloaded by a tool). Installed when missing, as root or with a
# password-less sudo; `apt-get update` only if the install fails (no package lists yet). Where
# nothing can be installed, the browser tests skip and name the missing package (on CI they fail).
BROWSER_PACKAGES := chromium chromium-driver
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then as_root=; elif sudo -n true 2>/dev/null; then as_root="sudo -n"; \
	else echo "make: not root and no password-less sudo: cannot install $(BROWSER_PACKAGES); the browser tests will skip" >&2; exit 0; fi; \
	install="$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES)"; \
	$$install || { $$as_root apt-get update -q && $$install; } \
	  || echo "make: apt-get could not install $(BROWSER_PACKAGES); the browser tests will skip" >&2

# Starts PostgreSQL on 127.0.0.1 for the suite, runs pytest, always stops it. The suite runs on
# PYTEST_WORKERS processes (pytest-xdist; `auto` is one per core, 0 runs it in this process):
# each PostgreSQL test creates and drops its own database, so workers share the one server.
# --dist loadgroup: tests marked @pytest.mark.xdist_group(NAME) run on one worker, sharing its
# module fixtures (the browser tests: one seeded workspace, dashboard and Chromium, not one per worker).
PYTEST_WORKERS ?= auto
# The suite starts authctl as a subprocess about a thousand times: compile the sources once first
# (machines that set PYTHONDONTWRITEBYTECODE, as CI images often do, would recompile them every time).
test: install-dev lint browser
	@$(BIN)/python -m compileall -q -j 0 reconciler providers tests scripts benchmarks > /dev/null
	@set -e; pgdir=$$(mktemp -d /tmp/authctl-pg.XXXXXX); chmod 755 $$pgdir; \
	trap 'scripts/postgres.sh stop '$$pgdir EXIT; \
	url=$$(scripts/postgres.sh start $$pgdir); \
	AUTHCTL_TEST_PG_URL=$$url $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# After editing dependencies in pyproject.toml: re-resolve the lock files (a test checks they
# are current). Versions already locked are kept when still allowed; `make lock LOCK_ARGS=--upgrade`
# moves everything to the newest allowed. --universal: one file for every OS and Python >= 3.11.
# dev is resolved first and runtime constrained to its pins, so both always agree.
LOCK = $(BIN)/uv pip compile -q --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)
BUILD_REQUIRES = $(BIN)/python -c 'import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'
lock: $(VENV)/.uv
	$(BUILD_REQUIRES) | $(LOCK) --all-extras pyproject.toml - -o requirements/dev.txt
	$(BUILD_REQUIRES) | $(LOCK) pyproject.toml - -c requirements/dev.txt -o requirements/runtime.txt
	echo uv | $(LOCK) - -o requirements/uv.txt

# After editing providers/*.yaml: refresh the precompiled catalog (a test checks it is current).
catalog: install
	$(BIN)/python scripts/compile_catalog.py

# health_scale runs the test OAuth provider (tests/oauth_provider: Flask, a dev dependency).
bench: install-dev
	$(BIN)/python benchmarks/validate_scale.py
	$(BIN)/python benchmarks/snapshot_scale.py
	$(BIN)/python benchmarks/plan_scale.py
	$(BIN)/python benchmarks/apply_scale.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/plan_http.py
	$(BIN)/python benchmarks/health_scale.py
	$(BIN)/python benchmarks/export_scale.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
