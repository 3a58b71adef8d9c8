# Two commands for a newcomer: `make book` and `make test`. Each installs what it needs
# into .venv (torch pinned to the CPU build by constraints.txt) and then does its job.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -q -c constraints.txt
NOTEBOOKS := $(wildcard book/*.ipynb)

.PHONY: book test lint execute browser clean reproduce

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.book: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[book]"
	touch $@

$(VENV)/.test: $(VENV)/.book
	$(PIP) -e ".[book,test]"
	touch $@

## book: install, then build the HTML book into _build/html (warnings are errors)
book: $(VENV)/.book
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going --builder html
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

## test: install, lint, build the book, then run unit, notebook (nbval, strict) and browser tests
test: $(VENV)/.test browser lint book
	SPARK_EDU_QUIET=1 $(BIN)/python -m pytest

## lint: ruff's linter and its format check over the package and the tests
lint: $(VENV)/.test
	$(BIN)/ruff check spark_edu tests conftest.py
	$(BIN)/ruff format --check spark_edu tests conftest.py

## execute: re-run every notebook in place so its committed outputs are fresh
execute: $(VENV)/.book
	@for nb in $(NOTEBOOKS); do \
		echo "executing $$nb"; \
		SPARK_EDU_QUIET=1 $(BIN)/jupyter execute --inplace "$$nb" || exit 1; \
	done
	$(BIN)/python -c "from spark_edu.chapters.attention_from_scratch.figures import render; \
		render(length=8, masking='causal').savefig('book/images/attention-weights.png')"
	$(BIN)/python -c "from spark_edu.chapters.audit.figures import summary_figure; \
		from spark_edu.results import data_dir; \
		summary_figure(data_dir('audit') / 'claims.csv').savefig('book/images/verdicts.png')"

## reproduce: re-measure every claim of both reports into spark_edu/data/audit (the audit chapter reads it)
reproduce: $(VENV)/.book
	$(BIN)/python -m spark_edu reproduce --out spark_edu/data/audit

## browser: make sure a headless Chromium is there for the browser test (Debian package)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium not found: install it (e.g. 'sudo apt-get install chromium') for the browser test"; \
		fi; }

clean:
	rm -rf _build
