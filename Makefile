# Alexandria Backfill: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	deploy/local/install-system-packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

tools: $(STAMP) ## Install helm, kubeconform, the Kubernetes schemas (chart tests) and jaeger into .tools
	deploy/tools/install-helm.sh
	deploy/tools/install-jaeger.sh

setup: $(STAMP) tools ## Install system packages if missing, the Python environment, .tools

test: setup ## Set up, lint, type-check, start the local stack if needed, run every test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

demo: setup ## Set up, start the stack and the five services, backfill 2019-01..2019-06, summary
	$(BIN)/alexandria demo --from 2019-01 --to 2019-06

lint: setup ## ruff
	$(BIN)/ruff check .

typecheck: setup ## mypy (strict on shared/, services/, sandbox/)
	$(BIN)/mypy

up: setup ## Start the local stack (Kafka, PostgreSQL, sandbox, Jaeger), migrate, create topics
	$(BIN)/alexandria dev up

status: setup ## Show the local stack's health and addresses
	$(BIN)/alexandria dev status

down: setup ## Stop the local stack (its data stays in .state/)
	$(BIN)/alexandria dev down

bench: setup ## Every benchmark at its quick size (about 15 min on 2 cores): one table of figure, floor, ratio, goal, met
	$(BIN)/python -m bench

chart: tools ## Lint, render and validate the Helm chart
	$(BIN)/pytest tests/deploy -q

.PHONY: help tools chart bench setup test demo lint typecheck up status down
