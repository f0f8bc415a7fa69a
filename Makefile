# The two Quick start commands. Both set everything up first, so they work on a fresh machine.
.PHONY: setup demo test test-fast ui up down prod-local prod-local-stop bench

setup:
	bash scripts/setup.sh

demo: setup            ## simulate two months of shop traffic and build the whole asset graph (every model trains)
	.venv/bin/shopverse run

test:                  ## set up everything (services included) and run the whole test suite
	bash scripts/setup.sh --services
	.venv/bin/python -m pytest -p no:cacheprovider

test-fast: setup       ## the tests that need no outside service
	.venv/bin/python -m pytest -m "not services"

ui: setup
	.venv/bin/shopverse ui

up: setup              ## Dagster UI + daemon, MLflow UI, Marquez if installed; Ctrl-C stops all
	.venv/bin/shopverse up

down:
	.venv/bin/shopverse down

prod-local: setup      ## the docker-compose configuration as local processes (PostgreSQL storage)
	bash scripts/services/install.sh postgres
	bash scripts/stack/prod_local.sh start

prod-local-stop:
	bash scripts/stack/prod_local.sh stop

bench: setup
	.venv/bin/python bench/ingest.py
	.venv/bin/python bench/metrics.py
	.venv/bin/python bench/ml.py
