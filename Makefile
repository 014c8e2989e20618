# The two commands of the README: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup chromium demo test test-reliability audit screenshots stop status bench-load bench-api bench-national bench-soak clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 or newer is required: install python3 and python3-venv"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is required (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) chromium

## chromium: Debian's chromium for the dashboard's browser test (Playwright drives it; no browser is downloaded)
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium (the dashboard's browser test runs in it)"; \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      || { echo "apt-get could not install chromium; install it, or the browser test cannot run"; exit 1; }; \
	  else \
	    echo "No /usr/bin/chromium and no apt-get: install Chromium at /usr/bin/chromium for the dashboard's browser test"; \
	  fi; \
	fi

## demo: start Neo4j, apply the schema, generate and load a 20k-child England; leaves it running
demo: $(STAMP)
	$(BIN)/contactpoint demo

## test: the whole test suite on a real local Neo4j (started if not running)
test: setup
	$(BIN)/python -m pytest

## screenshots: the browser test, writing the README's screenshots into docs/screenshots/
screenshots: setup
	CP_SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/dashboard/test_browser.py

## test-reliability: faults, hostile input, misuse and load only (tests/reliability, about 5 minutes)
test-reliability: setup
	$(BIN)/python -m pytest tests/reliability

## audit: known vulnerabilities in the installed dependencies (pip-audit, and PyPI's project data where it cannot ask)
audit: setup
	$(BIN)/python tools/audit_deps.py

## stop: stop everything the demo started
stop: $(STAMP)
	$(BIN)/contactpoint stop

status: $(STAMP)
	$(BIN)/contactpoint neo4j status; $(BIN)/contactpoint db status

## bench-load: generate and load 100k and 1M children; results in bench/results/
bench-load: $(STAMP)
	$(BIN)/python bench/load_bench.py --children 100000 --children 1000000

## bench-api: API and direct-driver latency and throughput on what bench-load left (1M children)
bench-api: $(STAMP)
	$(BIN)/python bench/api_bench.py --label 1000000

## bench-national: the first national load (bulk import) and the API benchmark on it; results in bench/results/
## (11M children by default, about an hour and 30 GB of disk; e.g. make bench-national CHILDREN=1000000 LABEL=1m)
CHILDREN      ?= 11000000
LABEL         ?= 11m
NATIONAL_PORT ?= 7696
NATIONAL_HOME := .neo4j/national-$(LABEL)
bench-national: $(STAMP)
	$(BIN)/python -u bench/national_bench.py --children $(CHILDREN) --home $(NATIONAL_HOME) --port $(NATIONAL_PORT) \
		--heap 2g --pagecache 6g --leave-running
	$(BIN)/python bench/api_bench.py --label national-$(LABEL) --home $(NATIONAL_HOME) --port $(NATIONAL_PORT) \
		--heap 2g --pagecache 6g --api-port 8095
	CP_NEO4J_HOME=$(NATIONAL_HOME) CP_NEO4J_BOLT_PORT=$(NATIONAL_PORT) $(BIN)/contactpoint neo4j stop

## bench-soak: the load test for 30 minutes against the running demo (make demo first); results in bench/results/
bench-soak: setup
	$(BIN)/python bench/soak.py --minutes 30

clean:
	rm -rf $(VENV) var .pytest_cache
