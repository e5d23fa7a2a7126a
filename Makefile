# invitegw: the two Quick-start commands and the CI checks.
#   make demo   run the gateway end to end on the embedded setup
#   make test   run the whole test suite (installs what it needs)
#   make check  ruff + mypy
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint type format bench clean

$(STAMP): pyproject.toml scripts/bootstrap
	PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/bootstrap
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/invitegw demo

# The whole suite, exactly as CI runs it (scripts/test finds the test data beside the checkout).
test: $(STAMP)
	PY=$(PY) sh scripts/test $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check invitegw tests bench
	$(VENV)/bin/ruff format --check invitegw tests bench

type: $(STAMP)
	$(VENV)/bin/mypy

check: lint type

format: $(STAMP)
	$(VENV)/bin/ruff format invitegw tests bench
	$(VENV)/bin/ruff check --fix invitegw tests bench

bench: $(STAMP)
	$(PY) bench/outbound.py
	$(PY) bench/inbound.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
