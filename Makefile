# Set-up is part of every target: a fresh machine needs only `make run` or `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: run test lint setup docs clean check-results

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	# pip >= 24.1 rejects robel 0.1.2's malformed metadata (transforms3d pin), so pip stays below it
	$(PY) -m pip install --quiet 'pip>=23,<24.1'
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	# ROBEL's wheel pins old gym/mujoco-py; only its MJCF assets are used (tasks/robel)
	$(PY) -m pip install --quiet --no-deps robel==0.1.2
	touch $(STAMP)

setup: $(STAMP)

# The main job: PAL on inverted-pendulum, 10,000 samples (a few minutes on 2 cores).
run: $(STAMP)
	$(PY) -m stackelberg.run --leader policy --task inverted-pendulum --samples 10000 --out runs/out/make-run-$$(date +%Y%m%d-%H%M%S)

# ruff (pyflakes + pycodestyle errors) and mypy on the library, then the suite, one pytest worker
# per core (pytest-xdist)
lint: $(STAMP)
	$(VENV)/bin/ruff check stackelberg tasks tests
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest tests -n auto

# every table of runs/RESULTS.md rerun from its command on the committed records (read-only;
# `$(PY) runs/scripts/check_results.py --update` writes them after a legitimate change)
check-results: $(STAMP)
	$(PY) runs/scripts/check_results.py

# The documentation site into site/ (open site/index.html); any warning fails the build
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) runs/out site
