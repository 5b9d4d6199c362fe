# kmiphsm: `make serve` runs the server in the foreground, `make test` runs the whole suite.
# Both set up what is missing first: Debian's softhsm2 (apt-get, when root), a virtualenv
# with the package and its test dependencies, a SoftHSM token and a development PKI in var/.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= conf/kmiphsm.toml
TOKEN_LABEL := kmiphsm

.PHONY: serve test test-postgresql postgresql lint setup softhsm opencryptoki test-opencryptoki venv token pki conformance fuzz bench cpu-layers clean

serve: setup
	SOFTHSM2_CONF=$(CURDIR)/var/softhsm/softhsm2.conf $(VENV)/bin/twistd -n kmiphsm --config $(CONFIG)

test: setup opencryptoki lint
	$(VENV)/bin/trial --temp-directory=var/_trial_temp tests
	$(MAKE) test-opencryptoki
	$(MAKE) test-postgresql

# The second token (docs/hsm.md): Debian's opencryptoki, installed when root; its software
# token is set up and torn down by tests/support/opencryptoki.py (system-wide: under a lock).
# Without it (not root) the OpenCryptoki tests skip with the reason.
opencryptoki:
	@if ! command -v pkcsslotd >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -q opencryptoki >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q opencryptoki)) ; \
	fi

# The token-independent engine modules again, on OpenCryptoki's software token (the others
# use GCM, EC, Ed25519 ... which it lacks: tests/test_opencryptoki.py checks those answers).
OCK_ENGINE_TESTS := tests.test_engine_batch tests.test_engine_locate tests.test_engine_attributes \
	tests.test_engine_lifecycle tests.test_engine_errors tests.test_engine_discovery \
	tests.test_engine_lease
test-opencryptoki: setup opencryptoki
	@if command -v pkcsslotd >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  KMIPHSM_TEST_TOKEN=opencryptoki $(VENV)/bin/trial --temp-directory=var/_trial_temp_ock $(OCK_ENGINE_TESTS); \
	else echo "test-opencryptoki: skipped (needs root and Debian's opencryptoki)"; fi

# The store and engine suites again on PostgreSQL (a throwaway cluster from Debian's
# postgresql package, started by tests/support/postgres.py; skipped with a message if absent).
STORE_SUITES = $(patsubst tests/%.py,tests.%,$(wildcard tests/test_store_*.py tests/test_engine_*.py))
test-postgresql: setup postgresql
	KMIPHSM_TEST_STORE=postgresql $(VENV)/bin/trial --temp-directory=var/_trial_temp_pg $(STORE_SUITES)

postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q postgresql >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q postgresql)) ; \
	  else \
	    echo "the PostgreSQL tests need Debian's postgresql: run 'sudo apt-get install postgresql'"; \
	  fi; \
	fi

# ruff and mypy from the virtualenv (pinned in setup.cfg's test extras; settings in
# pyproject.toml): run by `make test` before the tests.
lint: venv
	$(VENV)/bin/ruff check kmiphsm tests bench twisted
	$(VENV)/bin/mypy

setup: softhsm venv token pki

softhsm:
	@if ! command -v softhsm2-util >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q softhsm2 >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q softhsm2)) ; \
	  else \
	    echo "kmiphsm needs Debian's softhsm2: run 'sudo apt-get install softhsm2' and retry"; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "kmiphsm needs Python >= 3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "kmiphsm needs python3-venv: run 'sudo apt-get install python3-venv'"; exit 1; fi; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@# twistd finds plugins in twisted/plugins/ of every sys.path entry: put the project root there
	$(PY) -c 'import site, pathlib; pathlib.Path(site.getsitepackages()[0], "kmiphsm-project-root.pth").write_text("$(CURDIR)\n")'
	touch $@

venv: $(VENV)/.installed

token: softhsm
	softhsm/init-token.sh var/softhsm $(TOKEN_LABEL)

pki: venv
	$(PY) -m kmiphsm.devpki var/pki

# The OASIS KMIP 2.1 test cases (../shared/vectors or $$KMIP_VECTORS) against a fresh server:
# a table of results; fails on a file that is on neither tests/conformance/*.toml list.
conformance: setup
	$(PY) -m tests.conformance

# The fuzzer (tests/fuzz): 100,000 mutated requests through the endpoint over a real engine
# and token, with a random seed it prints; SEED=<seed> draws the same cases again,
# FUZZ_ARGS="--cases N", "--keep-going" or "--replay var/fuzz/failures/<file>.json".
SEED ?=
FUZZ_ARGS ?=
fuzz: setup
	$(PY) -m tests.fuzz $(if $(SEED),--seed $(SEED)) $(FUZZ_ARGS)

# kmiphsm against the PyKMIP server and the raw token (under 5 minutes), then the cost of the
# access log and the audit trail (about 4 more, 3 rounds each; BENCH_ARGS=--skip-logging to leave it out):
# prints a table and rewrites the generated part of docs/benchmarks.md. BENCH_ARGS=--quick
# for a shorter run.
BENCH_ARGS ?=
bench: softhsm venv
	$(PY) bench/compare.py $(BENCH_ARGS)

# Server CPU per request split by layer (transport, codec, model, engine, token, store,
# logging) from py-spy samples of a real server under load (issue 17; docs/benchmarks.md).
# py-spy is installed into the virtualenv here, not by `make setup`: only this needs it.
LAYERS_ARGS ?=
cpu-layers: softhsm venv
	@test -x $(VENV)/bin/py-spy || $(PY) -m pip install -q py-spy
	$(PY) bench/cpu_layers.py $(LAYERS_ARGS)

clean:
	rm -rf var/_trial_temp _trial_temp
