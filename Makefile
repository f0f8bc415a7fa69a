# The two Quick start commands. Both set everything up first, so they work on a fresh machine.
.PHONY: setup demo test test-fast ui bench

setup:
	bash scripts/setup.sh

demo: setup            ## simulate a month of shop traffic and build the whole asset graph
	.venv/bin/shopverse run

test:                  ## set up everything (services included) and run the whole test suite
	bash scripts/setup.sh --services
	.venv/bin/python -m pytest -p no:cacheprovider

test-fast: setup       ## the tests that need no outside service
	.venv/bin/python -m pytest -m "not services"

ui: setup
	.venv/bin/shopverse ui

bench: setup
	.venv/bin/python bench/ingest.py
	.venv/bin/python bench/metrics.py
	.venv/bin/python bench/ml.py
