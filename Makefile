# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint typecheck locales extract-messages migrate clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

locales: $(STAMP)
	$(BIN)/pybabel compile --domain=messages --directory=locales --statistics

migrate: $(STAMP)
	$(BIN)/python -m storage.migrate

run: $(STAMP) locales migrate
	$(BIN)/python main.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

# The sandbox's browser tests drive Debian's Chromium through Playwright (Playwright's own
# browser download is not used). Installed here when missing and we may; otherwise those tests
# fail with the reason.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji; } \
	      || echo "Chromium could not be installed (browser tests need it)"; \
	  else echo "Chromium is missing: apt-get install chromium (browser tests need it)"; fi; }

# The suite runs twice: on the embedded default, then on PostgreSQL + Redis (127.0.0.1; see
# README). Unreachable services fail that leg's tests with the reason.
test: $(STAMP) locales lint typecheck chromium
	@echo "== test leg 1: SQLite, dialog state in the database =="
	$(BIN)/pytest -q
	@echo "== test leg 2: PostgreSQL + Redis =="
	TEST_BACKEND=postgres $(BIN)/pytest -q -rs

# Not part of `make test`: several minutes of load (README, "Benchmark"). BENCH_ARGS passes
# options, e.g. BENCH_ARGS="--residents 50 --parked 1000 --no-postgres".
bench: $(STAMP) locales
	$(BIN)/python -m bench $(BENCH_ARGS)

# Refresh the catalogues after adding or changing texts; translate, then `make locales`.
extract-messages: $(STAMP)
	$(BIN)/pybabel extract --project=15-80 --no-location --sort-output -k _ -k __ -k N_ -k gettext -k ngettext:1,2 -o locales/messages.pot bot domain handlers main.py
	$(BIN)/pybabel update --domain=messages --input-file=locales/messages.pot --output-dir=locales --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
