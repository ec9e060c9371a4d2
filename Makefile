# `make test` and `make demo` set everything up themselves, from the pinned requirements.
PYTHON ?= python3
VENV ?= .venv
REQUIREMENTS ?= requirements/test.txt
BIN := $(VENV)/bin
# The requirements file and those it names with "-r" or "-c": a change to any of them reinstalls.
REQUIREMENT_FILES := $(REQUIREMENTS) $(addprefix $(dir $(REQUIREMENTS)),$(shell sed -n 's/^-[rc][[:space:]]*//p' $(REQUIREMENTS)))
STAMP := $(VENV)/.installed-$(shell cat $(REQUIREMENT_FILES) pyproject.toml | cksum | cut -d' ' -f1)
# `make bench` has its own venv, from requirements/bench.txt (test.txt plus the benchmarks' tools).
BENCH_VENV ?= .venv-bench
# `make pytest-lowest` has its own venv, from requirements/test-lowest.txt (the floors).
LOWEST_VENV ?= .venv-lowest

.PHONY: test lint pytest pytest-faults pytest-lowest demo bench requirements requirements-lowest clean

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

## test: lint, type-check, then the whole test suite with branch coverage of postlogin/
test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy postlogin tests bench

## pytest: the suite under each auth stack's settings, coverage combined over the three runs:
## social-auth only (everything but tests/allauth, demo and browser tests included), allauth
## only (tests/allauth), both installed (every test that needs no broker, worker or demo)
pytest: $(STAMP)
	$(BIN)/python -m pytest --ds=tests.settings \
		--cov --cov-report= --cov-fail-under=0 $(PYTEST_ARGS)
	$(BIN)/python -m pytest --ds=tests.settings_allauth tests/allauth \
		--cov --cov-append --cov-report= --cov-fail-under=0 $(PYTEST_ARGS)
	$(BIN)/python -m pytest --ds=tests.settings_both -m "not integration and not demo" \
		--cov --cov-append --cov-report=term $(PYTEST_ARGS)

## pytest-faults: the slow rows of the fault matrix (tests/faults, marker faults_slow), which
## restart private PostgreSQL, Redis and RabbitMQ servers; `make pytest` deselects them (CI runs both)
pytest-faults: $(STAMP)
	$(BIN)/python -m pytest --ds=tests.settings -m faults_slow tests/faults $(PYTEST_ARGS)

## pytest-lowest: the unit and SSRF tests (no broker, worker, demo or build) under both auth
## stacks, on the lowest versions of the dependencies pyproject.toml allows (requirements/lowest.txt)
LOWEST_TESTS ?= tests/test_net.py tests/test_ssrf.py tests/test_fetch_properties.py \
	tests/test_avatars.py tests/test_webhooks.py tests/test_ratelimit.py tests/test_providers.py \
	tests/test_conf.py tests/test_checks.py tests/test_phones.py tests/test_jobs.py \
	tests/test_pipeline.py tests/test_lowest_versions.py tests/allauth
pytest-lowest:
	$(MAKE) venv VENV=$(LOWEST_VENV) REQUIREMENTS=requirements/test-lowest.txt
	$(LOWEST_VENV)/bin/python -m pytest --ds=tests.settings_both -p no:cacheprovider \
		-m "not integration and not demo and not slow" $(LOWEST_TESTS) $(PYTEST_ARGS)

## demo: the whole system on embedded defaults (SQLite database, SQLite-backed broker)
demo: $(STAMP)
	$(BIN)/python example/run_demo.py

## bench: login latency, worker throughput and dispatch cost; results in bench/results/
## (PostgreSQL and Redis on 127.0.0.1 when they answer, else SQLite and embedded defaults)
bench:
	$(MAKE) venv VENV=$(BENCH_VENV) REQUIREMENTS=requirements/bench.txt
	$(BENCH_VENV)/bin/python -m bench $(BENCH_ARGS)

## requirements: re-pin requirements/test.txt from requirements/test.in
requirements:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/pip install --quiet -r requirements/test.in
	(echo "# Pinned by pip freeze from requirements/test.in. Regenerate: make requirements"; \
	 .venv-pin/bin/pip freeze --exclude-editable) > requirements/test.txt
	rm -rf .venv-pin

## requirements-lowest: rewrite requirements/lowest.txt from pyproject.toml's floors
requirements-lowest:
	$(PYTHON) requirements/lowest.py > requirements/lowest.txt

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(LOWEST_VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov build dist *.egg-info
