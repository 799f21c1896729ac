# The two commands of the README: `make demo` and `make test`. Everything else is a helper target.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JS_SRC := $(shell find js -type f 2>/dev/null) package.json esbuild.config.mjs

.PHONY: demo test lint js typecheck bench clean docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The front end is built here rather than left to pip's isolated build, so a change in js/ is always rebuilt.
k8sterm_widget/static/k8sterm.js: node_modules/.installed $(JS_SRC)
	npm run --silent build

js: k8sterm_widget/static/k8sterm.js

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml jupyter-config/jupyter_server_config.d/k8sterm_widget.json k8sterm_widget/static/k8sterm.js
	$(BIN)/pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.test-installed: $(VENV)/.demo-installed pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

## make demo: demo cluster + JupyterLab on examples/quickstart.ipynb, until Ctrl-C.
demo: $(VENV)/.demo-installed
	$(BIN)/k8sterm lab examples/quickstart.ipynb

## make test: the whole suite (checks, front-end units, demo cluster against real kubectl, engine, JupyterLab).
# Two pytest-xdist workers, each taking whole files (module fixtures: JupyterLabs, clusters, start once): the
# suite mostly waits (browsers, kernels, timeouts), so two share CI's 2 cores well. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: $(VENV)/.test-installed
	$(BIN)/ruff check k8sterm_widget tests benchmarks scripts docs/conf.py
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	npm run --silent typecheck
	node --test tests/js/*.test.mjs
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

lint: $(VENV)/.test-installed
	$(BIN)/ruff check k8sterm_widget tests benchmarks scripts docs/conf.py
	$(BIN)/ruff format --check k8sterm_widget tests benchmarks scripts docs/conf.py

## make typecheck: mypy on the package, the layers contract (lint-imports), tsc on the front end.
typecheck: $(VENV)/.test-installed
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	npm run --silent typecheck

bench: $(VENV)/.test-installed
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) node_modules k8sterm_widget/static build dist *.egg-info

## make docs: the documentation site in docs/_build/html, tutorials executed against a demo cluster (offline).
docs: $(VENV)/.test-installed
	$(BIN)/sphinx-build -W --keep-going -q -b html -c docs . docs/_build/html
