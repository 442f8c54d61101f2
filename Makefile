# Quick start: `make demo` and `make test` (each creates .venv when it is missing).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install -q -e ".[demo]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m tapegrad demo

test: $(VENV)/.installed-test
	bash tests/browser_setup.sh
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -q -n 2 tests

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) build dist src/*.egg-info
