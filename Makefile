# The README's two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PORT ?= 8000
PY := .venv/bin/python

.PHONY: run test demo setup setup-test openapi lint typecheck stop-db

setup:
	@scripts/setup.sh

# What the tests need besides: Debian's Chromium for the map page's browser test.
setup-test:
	@scripts/setup.sh --test

## run: set up, start the local database in .data/, migrate, load demo data, serve the API
run: setup
	@PORT=$(PORT) scripts/run.sh

## demo: a day in Brussels through the API (offers, matching, a yard, a two-tier plan), with a report
demo: setup
	@scripts/demo.sh

## test: set up, then lint, type-check, OpenAPI drift check and the test suite on a throwaway database
test: setup-test lint typecheck
	@$(PY) -m app.cli openapi --check
	@$(PY) -m pytest

lint: setup
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

typecheck: setup
	@.venv/bin/mypy

## openapi: regenerate openapi/openapi.json
openapi: setup
	@$(PY) -m app.cli openapi

stop-db:
	@scripts/pg.sh stop .data/pg
