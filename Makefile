# Disconnect Lab — `make` alone lists the targets. Every target creates what it needs first.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := disconnect-lab

SAMPLE_DIR := data/raw/sample
SAMPLE_FIRMS ?= 300
SAMPLE_LEDGER_ROWS ?= 200000
SEED ?= 20261122
# Your own data: make data SURVEY=data/raw/export.csv MAPPING=data/raw/mapping.yaml [BUDGETS=…]
# records these inputs in data/inputs.json; plain `make data` and `make reports` reuse them.
# With nothing recorded, the synthetic sample is used (and generated into data/raw/sample/).
SURVEY ?=
MAPPING ?=
BUDGETS ?=
LEDGER ?=
FX ?=
VENDORS ?=
STRICT ?=
JOBS ?=
PORT ?=
SAMPLE_ARGS = --sample-firms $(SAMPLE_FIRMS) --sample-ledger-rows $(SAMPLE_LEDGER_ROWS) --sample-seed $(SEED)
INPUT_ARGS = $(if $(SURVEY),--survey $(SURVEY),) $(if $(MAPPING),--mapping $(MAPPING),) \
  $(if $(BUDGETS),--budgets $(BUDGETS),) $(if $(LEDGER),--ledger $(LEDGER),) $(if $(FX),--fx $(FX),) \
  $(if $(VENDORS),--vendors $(VENDORS),) $(if $(STRICT),--strict,)

.PHONY: help setup sample data validate reports pdf test lab lint lock clean distclean bench-reports

help: ## Show this help (the default goal)
	@echo "Disconnect Lab — research notebooks on the CMO–CIO disconnect"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: SURVEY= MAPPING= BUDGETS= LEDGER= FX= VENDORS= (paths, remembered after a build;"
	@echo "           with none ever given: the synthetic sample), STRICT=1 (data: any bad ledger line"
	@echo "           is an error), JOBS=N (reports), PORT=N (lab)"

setup: $(STAMP) ## Create .venv with pinned packages and register the Jupyter kernel (no-op if unchanged)

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/constraints.txt -e '.[dev,spark]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Disconnect Lab (.venv)" >/dev/null
	@if git rev-parse --git-dir >/dev/null 2>&1; then $(VENV)/bin/nbstripout --install --attributes .gitattributes; fi
	@touch $@

sample: $(STAMP) ## Use the synthetic sample (generated into data/raw/sample if missing) for data and reports
	$(PY) -m helpers build-data --sample $(SAMPLE_ARGS)

data: $(STAMP) ## Validate raw inputs and write data/processed (SURVEY= MAPPING= … once; then remembered)
	$(PY) -m helpers build-data $(INPUT_ARGS) $(SAMPLE_ARGS)

validate: $(STAMP) ## Check a survey against the codebook (exit 2 with messages when invalid)
	$(PY) -m helpers validate $(if $(SURVEY),--survey $(SURVEY),) $(if $(MAPPING),--mapping $(MAPPING),) $(SAMPLE_ARGS)

reports: data ## Render every report in reports.yaml to reports/*.html (code hidden)
	$(PY) -m helpers reports $(if $(JOBS),-j $(JOBS),)

pdf: reports ## Print every report and the index to PDF beside it (headless Chromium; JOBS=N)
	$(PY) -m helpers pdf $(if $(JOBS),-j $(JOBS),)

test: $(STAMP) ## Run the test suite
	$(PY) -m pytest

bench-reports: data ## Time make reports against the papermill + nbconvert command line (~10 min)
	$(PY) benchmarks/bench_reports.py

lab: $(STAMP) ## Start JupyterLab on notebooks/ with the project kernel (PORT=8888 to choose the port)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(PORT),--port=$(PORT),)

lint: $(STAMP) ## Check style with ruff
	$(VENV)/bin/ruff check src tests benchmarks

lock: ## Re-resolve and pin dependencies into requirements/constraints.txt (after editing pyproject.toml)
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet --upgrade pip
	build/lock-venv/bin/pip install --quiet -e '.[dev,spark]'
	build/lock-venv/bin/pip freeze --exclude-editable | grep -v '^disconnect-lab' > requirements/constraints.txt
	rm -rf build/lock-venv

clean: ## Remove processed data, reports and executed notebooks (raw data is kept)
	rm -rf data/processed/*.parquet data/processed/*.json build/executed reports/*
	@touch reports/.gitkeep

distclean: clean ## Also remove .venv, the synthetic sample and the record of your inputs
	rm -rf $(VENV) $(SAMPLE_DIR) data/inputs.json
