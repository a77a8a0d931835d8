# editbench: `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.editbench-installed
DEMO_OUT ?= runs/demo

.PHONY: demo test lint bench install clean

install: $(STAMP)

# (Re)install when pyproject.toml changes. torch/torchvision are pinned in pyproject.toml.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	$(BIN)/editbench run --suite toy-5d --out $(DEMO_OUT)
	$(BIN)/editbench report $(DEMO_OUT)

# ruff (lint), import-linter (the layer rule, docs/architecture.md), mypy (foundation and contract).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python tests/import_cycles.py
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q tests

bench: $(STAMP)
	$(BIN)/python bench/toy_run.py

clean:
	rm -rf $(VENV) runs build *.egg-info
