# Tootbell: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run demo test test-fast test-desktop lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(TSTAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/tootbell

demo: $(STAMP)
	$(BIN)/tootbell --demo

lint: $(TSTAMP)
	$(BIN)/ruff check --no-cache desktop tests
	$(BIN)/mypy

# Unit and integration tests (offscreen Qt, demo instance on loopback), then the desktop set
# inside a private Xvfb + D-Bus + dunst + tray host + gnome-keyring session.
test: lint test-fast test-desktop

test-fast: $(TSTAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m "not desktop" -q

test-desktop: $(TSTAMP)
	$(BIN)/python tests/desktop/session.py -- $(BIN)/pytest -m desktop -q

bench: $(TSTAMP)
	$(BIN)/python tests/bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info desktop/*.egg-info .pytest_cache .mypy_cache .ruff_cache
