# make run: build .venv on first use, create the demo database when missing, open ketnap.
# make test: the whole suite in the same environment. make test-pg: the database tests again, each
# on a fresh database of the PostgreSQL server in KETNAP_TEST_PG or KETNAP_PG_SERVER (a throwaway
# one: .ci/with-postgres make test-pg). make bench: one table of every figure against its
# baseline from the same run, on the demo and on provinces of 10,000, 100,000 and 1,000,000 people
# (tests/bench_all.py; BENCH_ARGS='--sizes 10000,100000 --seconds 10' shortens it).
# make wheelhouse (needs the internet): wheelhouse/ holds the wheels of ketnap, its dependencies and
# pip, setuptools and wheel, and requirements.txt, for installing on a server with no internet.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DB ?= demo.sqlite3
BENCH_ARGS ?=
WHEELHOUSE ?= wheelhouse

.PHONY: run test test-pg bench lint clean wheelhouse

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	@test -s $(DEMO_DB) || $(BIN)/ketnap --db $(DEMO_DB) demo
	$(BIN)/ketnap --db $(DEMO_DB)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-pg: $(STAMP)
	@test -n "$${KETNAP_TEST_PG:-$$KETNAP_PG_SERVER}" || { echo "test-pg: set KETNAP_TEST_PG=postgresql://... or run .ci/with-postgres make test-pg" >&2; exit 2; }
	$(BIN)/python -m pytest -q --pg "$${KETNAP_TEST_PG:-$$KETNAP_PG_SERVER}" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m tests.bench_all $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/lint-imports

# build/ is removed first: setuptools copies modules into build/lib and never deletes them there,
# so a module removed from the checkout would still ship in the wheel
wheelhouse: $(STAMP)
	rm -rf build $(WHEELHOUSE)
	$(BIN)/python -m pip wheel --wheel-dir $(WHEELHOUSE) .
	$(BIN)/python -m pip download --dest $(WHEELHOUSE) --only-binary :all: pip setuptools wheel
	cd $(WHEELHOUSE) && ls *.whl | sed -E 's/^([^-]+)-([^-]+)-.*/\1==\2/' > requirements.txt

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
