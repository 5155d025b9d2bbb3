# econdl: every target installs what it needs first. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The install stamp is named after this checkout's path and pyproject.toml's content, so a
# fresh clone with a virtual environment already in place reinstalls only when either differs.
INSTALL_KEY := $(shell { echo "$(CURDIR)"; cat pyproject.toml; } | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(INSTALL_KEY)
ECONDL := $(BIN)/econdl
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install lint demo test test-fast bench bench-quick compare-kink compare-linear compare-gdp compare-mnist compare-gender sweep clean

help: ## List every target with a one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP):
	@test -x $(BIN)/python || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --upgrade pip; }
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed*
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install econdl with its dev extras (editable)

# The two comparisons are independent: the GDP one runs beside the kink one (its output is
# kept in logs/demo-gdp.log and printed second), so the demo takes about as long as the kink MLP.
demo: $(STAMP) ## Fit the kink and GDP models on the built-in data; print both comparison tables
	@mkdir -p logs
	@$(ECONDL) compare configs/gdp/ --seeds 5 > logs/demo-gdp.log 2>&1 & gdp=$$!; \
	echo "$(ECONDL) compare configs/kink/"; $(ECONDL) compare configs/kink/; kink=$$?; \
	wait $$gdp; gdp_rc=$$?; echo "$(ECONDL) compare configs/gdp/ --seeds 5"; cat logs/demo-gdp.log; \
	test $$kink -eq 0 -a $$gdp_rc -eq 0

compare-kink: $(STAMP) ## Kink task: MLP vs polynomial, Chebyshev and ReLU-basis least squares
	$(ECONDL) compare configs/kink/

compare-linear: $(STAMP) ## Linear regression by minibatch SGD vs the true coefficients
	$(ECONDL) compare configs/linear/

sweep: $(STAMP) ## Optuna sweep of the kink MLP (lr, batch size, widths); best config in logs/sweeps/kink_mlp/
	$(ECONDL) sweep --config configs/sweeps/kink_mlp.yaml

MNIST_DIR ?= data/mnist
MNIST_VARIANT ?= mnist
compare-mnist: $(STAMP) ## MNIST digits: naive Bayes, LASSO logit, MLP, CNN, per-digit table (IDX files in MNIST_DIR)
	$(ECONDL) compare configs/mnist/ --data.data_dir $(MNIST_DIR) --data.variant $(MNIST_VARIANT)

GENDER_DIR ?= data/gender
compare-gender: $(STAMP) ## Gender from photos: MLP vs CNN, Female/Male/All (photos in GENDER_DIR/Female, GENDER_DIR/Male)
	$(ECONDL) compare configs/gender/ --data.root $(GENDER_DIR)

compare-gdp: $(STAMP) ## GDP growth: MLP (5 seeds) vs AR(4) by OLS, random walk and mean, on US real GDP
	$(ECONDL) compare configs/gdp/ --seeds 5

lint: $(STAMP) ## ruff (lint and format check) on the repository and mypy on src/, configured in pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) ## Run the whole test suite (tiny fixtures, CPU only)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run the tests not marked slow
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP) ## Time econdl against like-for-like PyTorch loops (3 alternating repeats, 14-22 min on 2 cores); writes docs/benchmarks.md
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/step_overhead.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/log_call.py --write docs/benchmarks.md

bench-quick: $(STAMP) ## Smoke run of every benchmark pair (tiny sizes, 1 repeat, no report written)
	$(BIN)/python benchmarks/run.py --quick

clean: ## Remove run outputs (logs/) and caches; keeps .venv and data/
	rm -rf logs .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
