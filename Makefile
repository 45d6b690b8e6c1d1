# Humans and CI run the same targets. Each creates .venv itself when needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make demo: serve the bundled sample news site on 127.0.0.1, crawl it into demo.db, show alerts
demo: $(STAMP)
	$(PY) -m crawler.demo

## make test: the whole suite, including ruff, mypy and the matching quality gate
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check crawler spiders alerts tests benchmarks
	$(VENV)/bin/ruff format --check crawler spiders alerts tests benchmarks
	$(VENV)/bin/mypy

## make bench: throughput, matching, time-to-alert, storage and memory against baselines
bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo.db demo.db-* .demo bench-results.json test-artifacts
