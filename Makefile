# Two commands on a fresh machine with only Python 3.11:
#   make demo   create .venv, install, run `lr-variants compare`
#   make test   create .venv, install, run the test suite, the benchmarks as plain tests
#               (--benchmark-disable), ruff, mypy and the docs build (what .ci/run calls)
#   make docs   the documentation site, built strictly into site/
#   make bench  the full benchmark suite: bench/results/<time>.json, then (a complete run only)
#               docs/benchmarks.md and .png
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean bench docs

# torch is pinned by constraints.txt to the CPU build 2.13.0: an unconstrained install would
# resolve a multi-GB CUDA build. pyproject.toml itself only asks for torch>=2.3.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lr-variants compare

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest bench --benchmark-disable -q
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory docs

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	OMP_NUM_THREADS=1 $(BIN)/python bench/report.py --publish

lint: $(STAMP)
	$(BIN)/ruff check lr_variants tests bench tools
	$(BIN)/ruff format --check lr_variants tests bench tools
	$(BIN)/mypy

# the documentation site (MkDocs + Material + mkdocstrings), built strictly into site/
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .benchmarks site
