# Clientela — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
STAMP := $(VENV)/.installed
PORT ?= 5000

# The test suite runs on real services: PostgreSQL and Redis on this machine by default.
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/clientela_test
REDIS_URL_FOR_TESTS := $(or $(REDIS_URL),redis://127.0.0.1:6379/15)

# Which groups of Debian packages scripts/install-system-packages.sh makes sure of: serving
# needs "run"; `make test` adds "test" (Chromium, poppler-utils, an IMAP server).
PACKAGE_GROUPS := run
CATALOGS := $(patsubst %.po,%.mo,$(wildcard app/translations/*/LC_MESSAGES/messages.po))

.PHONY: install system-packages lint run test test-sqlite test-postgres worker bench load translations messages clean

# Everything a server needs before gunicorn: Debian packages, the venv, compiled catalogs
# (without them the UI and the PDFs come out in English). Fast and silent when nothing changed.
install: system-packages $(STAMP) $(CATALOGS)

system-packages:
	@scripts/install-system-packages.sh $(PACKAGE_GROUPS)

$(STAMP): requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

%.mo: %.po | $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

translations: $(CATALOGS)

# After changing user-facing strings: extract them and merge into the it/en catalogs.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching
	$(BIN)/python scripts/fill_english_catalog.py

# init before create-permissions: FAB grants each permission to the Admin role as it registers
# it, and prints a traceback per view while that role does not exist yet (an empty database).
# serve remembers its address (instance/public_base_url) as the base of links, unless
# PUBLIC_BASE_URL is set, and prints "ready" once /healthz answers.
run: install
	$(FLASK) db upgrade
	$(FLASK) clientela init --demo-if-empty
	$(FLASK) fab create-permissions
	$(FLASK) clientela serve --host 127.0.0.1 --port $(PORT)

# The layers contract (pyproject.toml, docs/development.md "Layers"): before any test runs.
lint: install
	$(BIN)/lint-imports

test: PACKAGE_GROUPS := run test
test: lint test-sqlite test-postgres

test-sqlite:
	REDIS_URL=$(REDIS_URL_FOR_TESTS) TEST_DATABASE_URL=$(TEST_DATABASE_URL) CLIENTELA_TEST_DB=sqlite $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

test-postgres:
	REDIS_URL=$(REDIS_URL_FOR_TESTS) CLIENTELA_TEST_DB=$(TEST_DATABASE_URL) $(BIN)/pytest $(PYTEST_ARGS)

worker: install
	$(FLASK) clientela worker

# `make bench SCALE=1m BENCH_DATABASE_URL=postgresql://…`: the scale bench (bench/scale.py).
bench: install
	SCALE=$(SCALE) $(BIN)/python -m bench

# Two gunicorn nodes and two workers under a mixed load on loopback (docs/performance.md, "Load run").
load: install
	$(BIN)/python -m bench.load

clean:
	rm -rf $(VENV) instance .pytest_cache
