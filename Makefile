# One-command entry points for a fresh machine: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

demo: install
	$(BIN)/jz demo --out demo-output

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/profile.py
	$(BIN)/python bench/btyd.py
	$(BIN)/python bench/models.py
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/evaluate.py

lint: install
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) demo-output .pytest_cache build *.egg-info src/*.egg-info
