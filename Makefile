# The two commands: `make demo` (try it) and `make test` (prove it). Everything else is a helper.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo test test-fast test-sqlite test-pg test-shifted lint bench clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (see README: Requirements)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

## demo: install, create the demo database, start the fake WeChat and the server on 127.0.0.1
demo: $(STAMP)
	-scripts/pdf-deps.sh
	$(BIN)/flask --app app demo

## test: install, check the layer rules, run the whole suite on SQLite, then on PostgreSQL when one is reachable
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	scripts/browser-deps.sh
	$(BIN)/python -m pytest -q -n 2
	@if $(BIN)/python -c "import psycopg2,sys; psycopg2.connect('$(TEST_PG_URL)', connect_timeout=3)" 2>/dev/null; then \
		echo "== again on PostgreSQL ($(TEST_PG_URL))"; \
		ZHIBU_TEST_DATABASE_URL=$(TEST_PG_URL) $(BIN)/python -m pytest -q -n 2; \
	elif [ "$$CI" = "true" ]; then echo "PostgreSQL at $(TEST_PG_URL) is required in CI"; exit 1; \
	else echo "== PostgreSQL not reachable at $(TEST_PG_URL): skipped the PostgreSQL run (see README)"; fi

## test-fast: the in-process tier only (marker `fast`, set by tests/conftest.py)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m fast

test-sqlite: $(STAMP)
	scripts/browser-deps.sh
	$(BIN)/python -m pytest -q -n 2

test-pg: $(STAMP)
	scripts/browser-deps.sh
	ZHIBU_TEST_DATABASE_URL=$(TEST_PG_URL) $(BIN)/python -m pytest -q -n 2

# libfaketime (bundled by the pinned PyPI package; Debian 12's 0.9.10 hangs timed waits in
# threads) moves the clock of pytest and of every child it starts.
FAKETIME_SO = $(shell $(BIN)/python -c "import importlib.util as u; print(u.find_spec('libfaketime').submodule_search_locations[0])")/vendor/libfaketime/src/libfaketime.so.1

## test-shifted: the SQLite suite with the machine's clock moved 400 days ahead, then 400 days back
test-shifted: $(STAMP)
	@for shift in +400d -400d; do \
		echo "== SQLite suite, process clock moved $$shift"; \
		LD_PRELOAD=$(FAKETIME_SO) FAKETIME=$$shift FAKETIME_DONT_FAKE_MONOTONIC=1 \
			FAKETIME_FORCE_MONOTONIC_FIX=0 $(BIN)/python -m pytest -q -n 2 || exit 1; \
	done

# The layer rules are import-linter contracts in pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python bench/callback_bench.py

clean:
	rm -rf $(VENV) instance .pytest_cache
