# The two commands of the course: `make book` and `make test`. Each creates .venv and installs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYDEVD_DISABLE_FILE_VALIDATION ?= 1
# CI and the tests use the shared copy of the data; elsewhere data/ or PNEUMO_DATA_DIR.

.PHONY: install browser book test lab lint format benchmark times clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 13) else "The course supports Python 3.10 to 3.13, found %d.%d: run make PYTHON=python3.13 ..." % v)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (pneumo-course)" >/dev/null
	touch $(STAMP)

## Build the site with every chapter executed into _build/html (outputs cached in _build/.jupyter_cache).
book: install
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	@echo "Open _build/html/index.html"

## A headless Chromium for the site checks: PNEUMO_BROWSER, or one on the PATH, or Debian's
## package installed with apt-get (as root or with password-less sudo).
BROWSERS := chromium chromium-browser google-chrome google-chrome-stable
browser:
	@if [ -n "$$PNEUMO_BROWSER" ]; then exit 0; fi; \
	for b in $(BROWSERS); do command -v $$b >/dev/null 2>&1 && exit 0; done; \
	if command -v apt-get >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; \
		else echo "make test needs Chromium for the site checks: run 'sudo apt-get install chromium'" >&2; exit 1; fi; \
		echo "Installing Chromium (Debian package) for the site checks"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "make test needs Chromium or Chrome for the site checks: install one, or set PNEUMO_BROWSER to its path" >&2; exit 1; \
	fi

## Lint, unit tests, every notebook under nbval, the Colab and full-profile rehearsals
## (tests/rehearsal), then the site built from the nbval execution and checked as files and
## in headless Chromium (a screenshot lands in _build/screenshots).
test: install browser
	rm -rf _build/html _build/jupyter_execute _build/.doctrees
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=1200 --durations=40 tests chapters --ignore=tests/site
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	$(BIN)/python -m pytest -p no:cacheprovider tests/site

## JupyterLab on the chapters.
lab: install
	$(BIN)/jupyter lab chapters

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

## Model quality and time over 3 seeds on the quick profile.
benchmark: install
	$(BIN)/python benchmarks/run.py --seeds 3 --profile quick --out benchmarks/results.json

## Each chapter's execution time for the instructor guide (benchmarks/chapter_times.json):
## the chapters run under nbval one at a time, never two trainings at once, so run it with
## nothing else on the machine. MACHINE describes the machine and what else it was doing.
MACHINE ?= $(shell nproc 2>/dev/null || echo ?) cores ($(strip $(shell sed -n 's/^model name[^:]*: //p' \
	/proc/cpuinfo 2>/dev/null | head -n 1))), chapters run one at a time by make times
times: install
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=1200 chapters
	$(BIN)/python -m pneumo_helpers.course chapter-times --machine "$(MACHINE)"

clean:
	rm -rf _build
