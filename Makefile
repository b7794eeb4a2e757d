# ugc: `make help` lists the targets. Every target installs what it needs first.
SHELL := /bin/bash
VENV := .venv/bin
PYTEST_ARGS ?=

.PHONY: help bootstrap test unit lint format demo airflow bench soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install Debian packages and the .venv (idempotent)
	@scripts/bootstrap.sh

test: bootstrap ## lint, then the whole test suite against real local services
	$(VENV)/ruff check .
	$(VENV)/pytest $(PYTEST_ARGS)

unit: bootstrap ## only the fast unit tests
	$(VENV)/pytest tests/unit $(PYTEST_ARGS)

lint: bootstrap ## ruff lint and format check
	$(VENV)/ruff check . && $(VENV)/ruff format --check .

format: bootstrap ## apply ruff formatting and safe fixes
	$(VENV)/ruff format . && $(VENV)/ruff check --fix .

demo: bootstrap ## the main job on embedded defaults: broker, collector, traffic, ETL, quality, marts
	@scripts/demo.sh

airflow: bootstrap ## a local Airflow (standalone) with the ugc DAGs, UI on :8080
	@scripts/airflow.sh

bench: bootstrap ## run the benchmarks and write docs/benchmarks.md
	@scripts/bench.sh

soak: bootstrap ## 10 minutes at 1,000 events/s through collector, broker and ETL
	@scripts/soak.sh

clean: ## remove local state (.ugc, var) but keep .venv
	rm -rf .ugc var bench-results
