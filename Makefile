# Two commands on a fresh machine with only Python 3.11:
#   make demo   create .venv, install, run `lr-variants compare`
#   make test   create .venv, install, run the whole test suite, the benchmarks as plain tests
#               (--benchmark-disable), ruff, mypy and the docs build (what .ci/run calls)
# and, for development:
#   make test-fast     the fast core of the suite, for quick feedback (no re-run of documented
#                      commands, no distributed, torch.compile or long article runs)
#   make test-kernels  the docs checks and the cross-variant agreement tests again, on other
#                      CPU kernels (KERNELS below): verdicts must not depend on the processor
#   make docs   the documentation site, built strictly into site/
#   make bench  the full benchmark suite: bench/results/<time>.json, then (a complete run only)
#               docs/benchmarks.md and .png
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Where pip looks for torch. Empty: the configured index. On plain PyPI, torch==2.13.0 for Linux
# x86-64 is the CUDA build (several GB of CUDA libraries); PyTorch's CPU-only wheels come from
# its own index:  make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

# Another processor, simulated on this one: OpenBLAS's SSE3 kernel (Prescott) for NumPy's
# matrix products, NumPy's own loops without AVX2 / AVX-512, torch's vector kernels and MKL
# without AVX, numba compiled for a generic x86-64. Float32 sums then round in other orders.
# torch.compile gets its own cache: code cached for one vector level breaks under another.
KERNELS ?= OPENBLAS_CORETYPE=Prescott ATEN_CPU_CAPABILITY=default \
	NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR" MKL_ENABLE_INSTRUCTIONS=SSE4_2 \
	NUMBA_CPU_NAME=generic TORCHINDUCTOR_CACHE_DIR="$(CURDIR)/$(VENV)/inductor-kernels"
# the tests whose verdicts compare numbers across variants, references and the article's run
AGREEMENT := tests/test_docs.py tests/test_properties.py tests/test_training.py \
	tests/test_optimizer.py tests/test_article_run.py tests/test_conformance.py \
	tests/test_numba_fast.py

.PHONY: demo test test-fast test-kernels lint clean bench docs

# torch is pinned by constraints.txt to 2.13.0; pyproject.toml itself only asks for torch>=2.3.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt \
		$(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lr-variants compare

# the suite as two pytest processes at once, one per core: the documented commands re-run
# (tests/test_docs.py) beside everything else; the docs half's output follows, either failing
# fails
test: $(STAMP)
	@rm -f $(VENV)/test-docs.log
	$(BIN)/python -m pytest -p no:cacheprovider --basetemp=$(VENV)/tmp-docs tests/test_docs.py \
		> $(VENV)/test-docs.log 2>&1 & docs=$$!; \
	$(BIN)/python -m pytest --ignore=tests/test_docs.py; rest=$$?; \
	wait $$docs; status=$$?; echo "--- the docs checks:"; cat $(VENV)/test-docs.log; \
	test $$rest -eq 0 && test $$status -eq 0
	$(BIN)/python -m pytest bench --benchmark-disable -q
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory docs

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

# two pytest processes at once, one per core (each runs one thread): the docs checks, and the
# other agreement tests; the docs half's output follows the other's, and either failing fails
test-kernels: $(STAMP)
	@rm -f $(VENV)/kernels-docs.log
	$(KERNELS) $(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=$(VENV)/tmp-kernels-docs \
		$(filter tests/test_docs.py,$(AGREEMENT)) > $(VENV)/kernels-docs.log 2>&1 & docs=$$!; \
	$(KERNELS) $(BIN)/python -m pytest -q -p no:cacheprovider --basetemp=$(VENV)/tmp-kernels \
		$(filter-out tests/test_docs.py,$(AGREEMENT)); rest=$$?; \
	wait $$docs; status=$$?; echo "--- the docs checks on these kernels:"; \
	cat $(VENV)/kernels-docs.log; test $$rest -eq 0 && test $$status -eq 0

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
