# The two commands of the README. Both create .venv when needed and reinstall only when
# pyproject.toml changed (the stamp file records the last install).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch and torchvision are pinned for the install here so pip takes them from this machine's
# wheel cache; pyproject.toml itself only asks for torch>=2.4, torchvision>=0.19.
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(TORCH_PIN) || $(BIN)/pip install "torch>=2.4" "torchvision>=0.19"
	$(BIN)/pip install -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/hiergenre benchmark

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
