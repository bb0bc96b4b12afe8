# chatstorm: two commands on a fresh clone. `make demo` runs a bounded headless load
# against the built-in reference agent; `make test` runs the suite. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_REPORT ?= reports/demo

.PHONY: demo test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/locust -f locustfiles/telegram.py --headless --users 40 --spawn-rate 10 \
		--run-time 30s --time-scale 0.1 --report-dir $(DEMO_REPORT) --only-summary

test: $(STAMP)
	$(BIN)/ruff check harness locustfiles tests bench
	$(BIN)/ruff format --check harness locustfiles tests bench
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run.py
	cd bench && ../$(BIN)/python telegram.py
	$(BIN)/python bench/botapi.py
	$(BIN)/python bench/judging.py
	$(BIN)/python bench/harness_run.py

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache
