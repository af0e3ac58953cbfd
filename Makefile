# Quick start: `make demo` then `make test`. Everything the project needs is installed from here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
OUT    ?= $(CURDIR)/out/demo
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test install install-dev system-deps clean schema

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	touch $@ $(STAMP_RUN)

install: $(STAMP_RUN)
install-dev: $(STAMP_DEV)

# poppler-utils (pdftotext / pdftoppm) lets the tests read the rendered PDF like a person would.
# Installed only when missing, and only where apt-get is available and we are root.
system-deps:
	@command -v pdftoppm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	  else echo "note: poppler-utils not installed; PDF text checks will be skipped"; fi; }

demo: $(STAMP_RUN)
	$(VENV)/bin/carbon-disclosure demo --out $(OUT) --force

test: $(STAMP_DEV) system-deps
	$(PY) -m pytest -q

schema: $(STAMP_RUN)
	$(VENV)/bin/carbon-disclosure schema --write schemas/disclosure.schema.json

clean:
	rm -rf $(VENV) out .pytest_cache
