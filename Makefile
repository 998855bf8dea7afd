# The one entry point for people and CI.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: install run test test-unit test-browser screenshots lint format

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Development server on the embedded SQLite database (instance/clinic.sqlite3).
run: install
	CLINIC_ENV=$${CLINIC_ENV:-development} $(BIN)/flask db upgrade
	CLINIC_ENV=$${CLINIC_ENV:-development} $(BIN)/flask bootstrap-admin
	CLINIC_ENV=$${CLINIC_ENV:-development} $(BIN)/flask run --host 127.0.0.1 --port 5000

# The unit suite, then the browser journeys (skipped with a reason where Chromium is missing).
test: test-unit test-browser

test-unit: install
	$(BIN)/pytest -q --ignore=tests/browser $(PYTEST_ARGS)

test-browser: install
	$(BIN)/pytest -q tests/browser $(PYTEST_ARGS)

# Refresh the README's screenshots from the browser journeys.
screenshots: install
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -q tests/browser

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
