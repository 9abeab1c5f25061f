# The two commands a newcomer needs: `make run` and `make test`.
# Both create the virtual environment in .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs on every core (pytest-xdist); PYTEST_WORKERS= runs it in one process.
PYTEST_WORKERS ?= -n auto --dist worksteal

.PHONY: run test lint bench catalogs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/venskab run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy venskab store scheduler followup bot web tests bench tools
	$(BIN)/lint-imports

# After adding or changing a text: extract every message id into locale/messages.pot and update
# each language's catalog; then translate the new, empty entries (see README, "Wording").
catalogs: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -o locale/messages.pot --no-location \
	  --sort-output --no-wrap --project venskab --version 1 \
	  --copyright-holder "the venskab contributors" --add-comments=Translators: -k said .
	$(BIN)/pybabel -q update -i locale/messages.pot -d locale --no-fuzzy-matching \
	  --ignore-obsolete --no-wrap

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache venskab.db
