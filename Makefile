# CrewBuilder — two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test browser-tools install install-dev lint format check-deploy worker migrate superuser clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install, migrate, seed plans and serve the embedded default on http://127.0.0.1:8000
run: install
	DJANGO_DEBUG=true $(PY) manage.py migrate --noinput
	@echo ""
	@echo "  CrewBuilder is starting on http://$(HOST):$(PORT)/"
	@echo "  Create an admin user (in another terminal):  DJANGO_DEBUG=true $(PY) manage.py createoperator --email you@example.com"
	@echo ""
	PORT=$(PORT) DJANGO_DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

## make test: install everything and run the whole suite (uses DATABASE_URL / REDIS_URL when set)
# The suite runs in 3 processes (pytest-xdist; most of its time is spent waiting on real
# servers and workers, so 3 beat one per core on 2 cores: 491 s vs 800 s): each gets its own test database and
# Redis database index (crewbuilder/test_settings.py). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 3
test: install-dev browser-tools
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# axe-core for the accessibility browser tests, pinned in tests/browser/package-lock.json.
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund

browser-tools:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(AXE); \
	else echo "npm not found: the accessibility browser tests will be skipped (CI installs it)"; fi

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Production settings with dummy secrets must pass Django's deployment checks.
check-deploy: install
	DJANGO_DEBUG=false DJANGO_SECRET_KEY=ci-dummy-secret-key-ci-dummy-secret-key-ci-dummy-secret-key-0123 \
	DJANGO_ALLOWED_HOSTS=crewbuilder.example.com CREWBUILDER_SITE_URL=https://crewbuilder.example.com \
	CREWBUILDER_ENCRYPTION_KEYS=ci:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
	STRIPE_SECRET_KEY=sk_test_dummy STRIPE_WEBHOOK_SECRET=whsec_dummy \
	$(PY) manage.py check --deploy --fail-level WARNING

worker: install
	$(VENV)/bin/celery -A crewbuilder worker -l info --pool threads --concurrency 50

migrate: install
	DJANGO_DEBUG=true $(PY) manage.py migrate --noinput

superuser: install
	DJANGO_DEBUG=true $(PY) manage.py createoperator

clean:
	rm -rf $(VENV) staticfiles *.egg-info
