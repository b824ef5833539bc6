# The two commands of the README. Both create .venv when needed and reinstall only when
# pyproject.toml changed (the stamp file records the last install).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch and torchvision are pinned for the install here so pip takes them from this machine's
# wheel cache; pyproject.toml itself only asks for torch>=2.4, torchvision>=0.19.
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test test-lowest lint format docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(TORCH_PIN) || $(BIN)/pip install "torch>=2.4" "torchvision>=0.19"
	$(BIN)/pip install -e ".[test]"
	rm -f $(VENV)/.installed-tool
	touch $@

# The tool alone (no test extras), for users who want `hiergenre` without the benchmark or tests.
install: $(VENV)/.installed-tool
$(VENV)/.installed-tool: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(TORCH_PIN) || $(BIN)/pip install "torch>=2.4" "torchvision>=0.19"
	$(BIN)/pip install .
	rm -f $(VENV)/.installed  # a non-editable copy now: make test reinstalls the checkout editable
	touch $@
	@echo "installed: $(BIN)/hiergenre --help"

demo: $(VENV)/.installed
	$(BIN)/hiergenre benchmark

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

# The suite on the lowest versions pyproject.toml declares (every dependency but torch and
# torchvision, which come as TORCH_PIN gives them): .ci/lowest_constraints.py pins each lower bound.
LOWEST := .venv-lowest
$(LOWEST)/.installed: pyproject.toml .ci/lowest_constraints.py
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(PYTHON) .ci/lowest_constraints.py pyproject.toml > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/pip install $(TORCH_PIN) || $(LOWEST)/bin/pip install "torch>=2.4" "torchvision>=0.19"
	$(LOWEST)/bin/pip install -c $(LOWEST)/constraints.txt -e ".[test]"
	touch $@

test-lowest: $(LOWEST)/.installed
	$(LOWEST)/bin/python -m pip freeze --exclude-editable > $(LOWEST)/versions.txt
	$(LOWEST)/bin/python -m pytest -q

docs: $(VENV)/.installed
	$(BIN)/python docs/readme_to_index.py
	$(BIN)/mkdocs build --strict -d site

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(LOWEST) site build *.egg-info .pytest_cache .ruff_cache
