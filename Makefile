# The one entry point for people and CI.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: install run migrate create-admin audit-verify audit-anchor seed-demo test test-unit \
	test-browser screenshots lint format

# The flask command on the embedded development database (instance/clinic.sqlite3), as `make run`.
FLASK_DEV = CLINIC_ENV=$${CLINIC_ENV:-development} $(BIN)/flask

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Development server on the embedded SQLite database (instance/clinic.sqlite3).
run: migrate
	$(FLASK_DEV) bootstrap-admin
	$(FLASK_DEV) run --host 127.0.0.1 --port 5000

migrate: install
	$(FLASK_DEV) db upgrade

# make create-admin USERNAME=jane (asks for the password)
create-admin: migrate
	@test -n "$(USERNAME)" || { echo "usage: make create-admin USERNAME=name"; exit 2; }
	$(FLASK_DEV) create-admin $(USERNAME)

# make audit-verify [ANCHOR=ID:HASH]
audit-verify: install
	$(FLASK_DEV) audit verify $(if $(ANCHOR),--anchor $(ANCHOR))

audit-anchor: install
	$(FLASK_DEV) audit anchor

# make seed-demo [SESSIONS=30] (asks for the demo staff's password)
SESSIONS ?= 30
seed-demo: migrate
	$(FLASK_DEV) seed-demo --sessions $(SESSIONS)

# The unit suite, then the browser journeys (skipped with a reason where Chromium is missing).
test: test-unit test-browser

# Parallel on every core (pytest-xdist): each worker migrates its own database.
XDIST ?= -n auto
test-unit: install
	$(BIN)/pytest -q --ignore=tests/browser $(XDIST) $(PYTEST_ARGS)

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

# The benchmark (bench/README.md): seeds its own database, serves the app and a one-query
# baseline with gunicorn on loopback, drives both with wrk. Options as make variables, e.g.
#   make bench BENCH_DB=postgresql BENCH_DURATION=10 BENCH_CONCURRENCY=8
#   make bench BENCH_PATIENTS=200 BENCH_SESSIONS=2000 BENCH_DURATION=3   (a quick look)
BENCH_DB ?= sqlite
BENCH_DURATION ?= 10
BENCH_WARMUP ?= 2
BENCH_CONCURRENCY ?= 8
BENCH_WORKERS ?= 4
BENCH_THREADS ?= 1
BENCH_PATIENTS ?= 2000
BENCH_SESSIONS ?= 20000
BENCH_ARGS ?=

.PHONY: bench
bench: install
	$(BIN)/python -m bench.run --db $(BENCH_DB) --duration $(BENCH_DURATION) \
		--warmup $(BENCH_WARMUP) --concurrency $(BENCH_CONCURRENCY) \
		--workers $(BENCH_WORKERS) --threads $(BENCH_THREADS) \
		--patients $(BENCH_PATIENTS) --sessions $(BENCH_SESSIONS) $(BENCH_ARGS)

# Mutation testing of the invariant modules (README, "Mutation testing"): mutmut 3 on each
# module's functions, then its module-level constants by hand, one module at a time against its
# own tests; prints each module's score. Minutes per module: not part of CI. For example
#   make mutation MUTATION_ARGS="passwords guards --jobs 1"
MUTATION_ARGS ?=

.PHONY: mutation
mutation: install
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)
