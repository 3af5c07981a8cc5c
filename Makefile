# leadledger: the two newcomer commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint pytest serve bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install leadledger with its dev tools

demo: install ## migrate the embedded (or configured) database and walk through leadledger
	$(BIN)/leadledger demo

test: install lint pytest ## lint, type-check and run the tests (TEST_DATABASE_URL picks the server)

lint: install
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/mypy tools/async_to_sync.py
	$(BIN)/python tools/async_to_sync.py --check
	$(BIN)/leadledger docs sql-reference --check

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

serve: install ## run the HTTP service
	$(BIN)/leadledger serve

bench: install ## run the benchmarks (see docs/benchmarks.md)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
