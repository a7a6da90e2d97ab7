# Dockyard developer targets. `make ci` is what CI runs (see .ci/run).
PREFIX ?= /opt/dockyard
PY := $(PREFIX)/bin/python
PYTEST := $(PY) -m pytest -q -p no:cacheprovider
export PYTHONDONTWRITEBYTECODE :=

.PHONY: install demo fmt check test root-test kernel conformance integration e2e bench clean-test ci

install:
	sh packaging/install.sh

demo: install
	sh packaging/demo.sh

fmt:
	$(PY) -m ruff format src tests bench
	$(PY) -m ruff check --fix src tests bench

check:
	$(PY) -m ruff format --check src tests bench
	$(PY) -m ruff check src tests bench
	$(PY) -m mypy
	cd src && $(PREFIX)/bin/lint-imports ../pyproject.toml

test:
	$(PYTEST) tests/unit

kernel:
	$(PYTEST) tests/kernel

conformance:
	$(PYTEST) tests/conformance

# a tier with no tests yet says so (pytest would exit 5 and fail the run)
integration e2e:
	@if ls tests/$@/test_*.py >/dev/null 2>&1; then $(PYTEST) tests/$@; \
	 else echo "tests/$@: no tests yet (they arrive with the daemon)"; fi

# every tier that needs root
root-test: kernel conformance integration e2e

bench:
	$(PY) -m bench

clean-test:
	$(PY) -m dockyard.testing.cleanup

ci: check test root-test
