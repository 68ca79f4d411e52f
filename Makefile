# Tootbell: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run demo test test-fast test-desktop test-bundle lint bench bundle icons clean \
	install-desktop uninstall-desktop

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
	$(BIN)/ruff check --no-cache desktop tests packaging
	$(BIN)/ruff format --no-cache --check desktop tests packaging
	$(BIN)/mypy

# Unit and integration tests (offscreen Qt, demo instance on loopback); the bundle's smoke
# tests (the bundle is built first when a source changed); then the desktop set inside a private
# Xvfb + D-Bus + dunst + tray host + gnome-keyring session (it starts the bundle too).
test: lint test-fast test-bundle test-desktop

test-fast: $(TSTAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m "not desktop and not bundle" -q

test-desktop: $(TSTAMP) dist/tootbell/tootbell
	$(BIN)/python tests/desktop/session.py -- $(BIN)/pytest -m desktop -q

bench: $(TSTAMP)
	$(BIN)/python tests/bench/run.py

# Tootbell in this user's launcher (~/.local/share): the entry starts this checkout's venv.
install-desktop: $(STAMP)
	$(BIN)/python packaging/install_desktop.py install --exec $(BIN)/tootbell

uninstall-desktop:
	$(PYTHON) packaging/install_desktop.py uninstall

clean:
	rm -rf $(VENV) build dist *.egg-info desktop/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# The one-folder PyInstaller bundle (dist/tootbell/tootbell), rebuilt only when a source, the
# spec or the launcher is newer than it; then its smoke tests against the built executable.
BUNDLE_SOURCES := $(shell find desktop/tootbell -name '*.py' -o -path '*/resources/*' -type f)

dist/tootbell/tootbell: $(TSTAMP) packaging/tootbell.spec packaging/launcher.py $(BUNDLE_SOURCES)
	$(BIN)/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/tootbell.spec
	touch $@

bundle: dist/tootbell/tootbell

test-bundle: dist/tootbell/tootbell
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m bundle -q

# The icons in resources/icons, packaging/icons and the package, rendered from their SVG
# sources (packaging/make_icons.py --check says whether the committed ones are stale).
icons: $(TSTAMP)
	$(BIN)/python packaging/make_icons.py
