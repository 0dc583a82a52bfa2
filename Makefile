# The verbs a newcomer guesses. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format migrate demo worker beat bench clean

# Installs quietly (the log is kept in .venv/install.log and shown if it fails), so
# that the first line `make test` prints says what the tests run on.
$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing requirements into $(VENV) (log: $(VENV)/install.log)"
	@$(PY) -m pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 \
		&& $(PY) -m pip install --quiet -r requirements.txt >> $(VENV)/install.log 2>&1 \
		|| (cat $(VENV)/install.log; exit 1)
	@touch $(STAMP)

run: $(STAMP)  ## serve http://127.0.0.1:8000 with demo data (SQLite, eager tasks)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(STAMP)  ## the whole suite; PostgreSQL and Redis when reachable (required with CI set)
	@$(PY) tests/run.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

demo: $(STAMP)
	$(PY) manage.py seed_demo

worker: $(STAMP)
	$(VENV)/bin/celery -A cxhub worker --loglevel=INFO

beat: $(STAMP)
	$(VENV)/bin/celery -A cxhub beat --loglevel=INFO

# Every benchmark runs even when an earlier one misses its target (each prints PASS/FAIL).
bench: $(STAMP)  ## needs PostgreSQL, Redis and wrk; see bench/README.md
	-$(PY) bench/ingest
	-$(PY) bench/dashboard
	-$(PY) bench/claims
	-$(PY) bench/leaderboard
	-$(PY) bench/api
	-$(PY) bench/import

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
