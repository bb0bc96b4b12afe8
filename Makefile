# chatstorm: two commands on a fresh clone. `make demo` runs a bounded headless load
# against the built-in reference agent; `make test` runs the suite. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_REPORT ?= reports/demo
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test bench install browser screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The report tests open report.html in a real browser: Debian's chromium.
browser:
	@test -x $(CHROMIUM) || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) \
		|| { echo "make test needs Chromium for the report tests: run 'apt-get install chromium' as root, or give CHROMIUM=/path/to/chromium"; exit 1; }

demo: $(STAMP)
	$(BIN)/locust -f locustfiles/telegram.py --headless --users 40 --spawn-rate 10 \
		--run-time 30s --time-scale 0.1 --report-dir $(DEMO_REPORT) --only-summary

test: $(STAMP) browser
	$(BIN)/ruff check harness locustfiles tests bench examples
	$(BIN)/ruff format --check harness locustfiles tests bench examples
	CHATSTORM_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -q

# docs/report/*.png: the report's charts and chat view, from the report tests' real runs.
screenshots: $(STAMP) browser
	CHATSTORM_CHROMIUM=$(CHROMIUM) CHATSTORM_SCREENSHOTS=docs/report \
		$(BIN)/python -m pytest -q tests/e2e/test_html_report.py

bench: $(STAMP) browser
	$(BIN)/python bench/run.py
	cd bench && ../$(BIN)/python telegram.py
	$(BIN)/python bench/botapi.py
	$(BIN)/python bench/judging.py
	$(BIN)/python bench/harness_run.py
	CHATSTORM_CHROMIUM=$(CHROMIUM) $(BIN)/python bench/html_report.py
	$(BIN)/python bench/master_reports.py
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache
