# The one entry point for people and CI.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: install run test lint format

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

test: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
