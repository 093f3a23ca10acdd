# nbkit — two commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nbkit-setup
STUBS := $(VENV)/mpy-stubs
BOARD ?=
TRANSPORT ?= udp
MODEM ?=
PYTEST_ARGS ?=
# tests run on this many worker processes (pytest-xdist; 0: in this process, one at a time)
PYTEST_WORKERS ?= 2
PROFILE ?= water

.PHONY: setup demo test lint typecheck build bench clean help

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

# One setup at a time per clone: a second `make setup` (or `make demo`/`make test`) started while
# one runs waits on the lock, then finds the stamp up to date (flock: util-linux, on every Debian).
SETUP_LOCK := .nbkit-setup.lock

setup:  ## create .venv with the pinned toolchain (no-op when up to date)
	@exec 9>$(SETUP_LOCK); flock -n 9 || { echo "== another make setup is running here; waiting for it to finish"; flock 9; }; \
	  $(MAKE) --no-print-directory $(STAMP)

$(STAMP): requirements-dev.txt pyproject.toml
	@echo "== setting up $(VENV) (pinned toolchain from requirements-dev.txt)"
	@echo "== [1/4] virtual environment"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@grep -v -- '-stubs==' requirements-dev.txt > $(VENV)/requirements-runtime.txt
	@echo "== [2/4] $$(grep -c '==' $(VENV)/requirements-runtime.txt) pinned packages (about a minute on a fresh machine; pip's progress on a terminal)"
	@$(BIN)/python -m pip install $$([ -t 1 ] && echo --progress-bar=on || echo --quiet) --disable-pip-version-check -r $(VENV)/requirements-runtime.txt
	@echo "== [3/4] nbkit itself (editable)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@echo "== [4/4] MicroPython stubs for the firmware type check (esp32, rp2)"
	@rm -rf $(STUBS) && for port in esp32 rp2; do \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(STUBS)/$$port \
	    $$(grep -E "^micropython-(stdlib|$$port)-stubs==" requirements-dev.txt) || exit 1; done
	@$(BIN)/micropython -c "import sys; print('MicroPython', sys.version, 'ready')"
	@touch $(STAMP)

demo: setup  ## the virtual meter end to end (PROFILE=water|gas-cjt188|electricity-dlt645|heat-mbus|smoke TRANSPORT=udp|tcp|mqtt|coap MODEM=bc28|ec200|bc660k)
	$(BIN)/python -m host_tools demo --profile $(PROFILE) --transport $(TRANSPORT) $(if $(MODEM),--modem $(MODEM))

test: setup  ## run every test (firmware tests under real MicroPython)
ifeq ($(strip $(PYTEST_ARGS)),)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal --ignore=tests/hil
	@# the HIL suite talks to the virtual board in wall time, as to a real board (its rig's
	@# time master is paced, host_tools/hil): it runs on its own after the rest
	$(BIN)/python -m pytest tests/hil
else
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)
endif

lint: setup  ## ruff over firmware, host_tools and tests
	$(BIN)/ruff check firmware host_tools tests
	$(BIN)/ruff format --check firmware host_tools tests

typecheck: setup  ## mypy: firmware against MicroPython stubs, host_tools against typeshed
	@for port in esp32 rp2; do echo "== firmware vs micropython-$$port-stubs"; \
	  MYPYPATH=$(STUBS)/$$port $(BIN)/mypy --config-file mypy-firmware.ini \
	    --custom-typeshed-dir $(STUBS)/$$port firmware || exit 1; done
	@echo "== host_tools vs typeshed"; $(BIN)/mypy --config-file mypy-host.ini host_tools
	@echo "== stubs/ (nbkit's public API for micropython-stubs users) vs the modules and the esp32 stubs"
	@MYPYPATH=stubs $(BIN)/python -m mypy.stubtest --mypy-config-file mypy-host.ini \
	  nbkit.proto.frame nbkit.proto.auth nbkit.lte.timers
	@MYPYPATH=stubs $(BIN)/mypy --strict --no-site-packages --python-version 3.10 \
	  --custom-typeshed-dir $(STUBS)/esp32 stubs/example_usage.py

build: setup  ## cross-compile firmware with mpy-cross for BOARD (default: every board)
	$(BIN)/python -m host_tools build $(if $(BOARD),--board $(BOARD),--all)

bench: setup  ## print the speed, energy and memory figures
	$(BIN)/python -m host_tools bench

clean:  ## remove build output and the virtual environment
	rm -rf build $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
