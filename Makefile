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

.PHONY: install lint run test test-sqlite test-postgres worker bench translations messages clean

install: $(STAMP)

$(STAMP): requirements.txt
	@command -v wkhtmltopdf >/dev/null || { echo "wkhtmltopdf is missing. Install it with: sudo apt-get install -y wkhtmltopdf"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

translations: install
	$(BIN)/pybabel compile -d app/translations

# After changing user-facing strings: extract them and merge into the it/en catalogs.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching
	$(BIN)/python scripts/fill_english_catalog.py

# init before create-permissions: FAB grants each permission to the Admin role as it registers
# it, and prints a traceback per view while that role does not exist yet (an empty database).
run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: install translations
	$(FLASK) db upgrade
	$(FLASK) clientela init --demo-if-empty
	$(FLASK) fab create-permissions
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

# The layers contract (pyproject.toml, docs/development.md "Layers"): before any test runs.
lint: install
	$(BIN)/lint-imports

test: lint translations test-sqlite test-postgres

test-sqlite:
	REDIS_URL=$(REDIS_URL_FOR_TESTS) CLIENTELA_TEST_DB=sqlite $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

test-postgres:
	REDIS_URL=$(REDIS_URL_FOR_TESTS) CLIENTELA_TEST_DB=$(TEST_DATABASE_URL) $(BIN)/pytest $(PYTEST_ARGS)

worker: install translations
	$(FLASK) clientela worker

bench: install translations
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache
