# The two things a newcomer runs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench deps

# Debian packages: only what is missing, installed when run as root, else the apt-get line to run.
deps:
	@PYTHON=$(PYTHON) scripts/install-deps.sh test

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "hdrive-migrate needs Python 3.11 or newer as $(PYTHON)"; exit 1; }
	@PYTHON=$(PYTHON) scripts/install-deps.sh build
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/hdrive-migrate demo

test: deps $(VENV)/.installed lint
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: deps $(VENV)/.installed
	$(BIN)/python bench/tenant.py
	$(BIN)/python bench/scan.py
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/migrate.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/start.py
