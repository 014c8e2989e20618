# The two commands of the README: `make demo` and `make test`. Both set themselves up, and neither needs root.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup chromium demo test test-fast test-property-long test-reliability audit screenshots stop status bench-load bench-api bench-national bench-soak clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 or newer is required: install python3 and python3-venv"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is required (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) chromium

## chromium: Debian's chromium for the dashboard's browser test (Playwright drives it; no browser is downloaded).
## Installing it needs root, or sudo without a password prompt; otherwise it says so and goes on (the browser
## test is then skipped, except under CI, where it fails).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "No /usr/bin/chromium and no apt-get: install Chromium at /usr/bin/chromium for the dashboard's browser test"; \
	  elif [ "$$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then \
	    echo "No /usr/bin/chromium, and installing Debian's chromium package needs root: run 'sudo make chromium'"; \
	    echo "(everything else runs without it; the browser test is skipped)"; \
	  else \
	    echo "Installing Debian's chromium (the dashboard's browser test runs in it)"; \
	    SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo "sudo -n" ); \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      || { echo "apt-get could not install chromium; install it, or the browser test cannot run"; exit 1; }; \
	  fi; \
	fi

## demo: start Neo4j, apply the schema, generate a 20k-child England as its sources see it, load it through matching,
## import Leeds's SSD extract; leaves it running
demo: $(STAMP)
	$(BIN)/contactpoint demo

## test: the whole test suite on a real local Neo4j (started if not running), the shielding property test with
## 200 derandomised examples; about 18 minutes on two cores. Without /usr/bin/chromium the browser test is skipped, and says why.
test: $(STAMP)
	CP_HYPOTHESIS_PROFILE=$${CP_HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest

## test-fast: the edit-test loop (about 5 minutes on two cores): everything but the tests marked slow, the
## reliability suite and the browser test, with 10 property-test examples
test-fast: $(STAMP)
	CP_HYPOTHESIS_PROFILE=$${CP_HYPOTHESIS_PROFILE:-dev} $(BIN)/python -m pytest -m "not slow" \
		--ignore=tests/reliability --ignore=tests/dashboard/test_browser.py

## test-property-long: the shielding property test with 2,000 examples (nightly; about an hour)
test-property-long: $(STAMP)
	CP_HYPOTHESIS_PROFILE=nightly $(BIN)/python -m pytest tests/test_shielding_property.py

## screenshots: the browser test, writing the README's screenshots into docs/screenshots/
screenshots: setup
	CP_SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/dashboard/test_browser.py

## test-reliability: faults, hostile input, misuse and load only (tests/reliability, about 5 minutes)
test-reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability

## audit: known vulnerabilities in the installed dependencies (pip-audit, and PyPI's project data where it cannot ask)
audit: $(STAMP)
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
bench-soak: $(STAMP)
	$(BIN)/python bench/soak.py --minutes 30

clean:
	rm -rf $(VENV) var .pytest_cache
