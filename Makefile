# The two commands of the README. Both create the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
DEMO_HOME ?= $(CURDIR)/.demo/data
DEMO_KEY_FILE ?= $(HOME)/.config/memberhub/demo-keyring.json

.PHONY: demo test venv lint

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[postgres,dev]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	HUB_HOME=$(DEMO_HOME) HUB_KEY_FILE=$(DEMO_KEY_FILE) $(VENV)/bin/hub demo

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q -n auto --dist loadfile --durations=30  # a module's tests share one worker (module-scoped fixtures); the 30 slowest listed

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
