# Quick start: `make demo` then `make test`. Everything the project needs is installed from here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
OUT    ?= $(or $(TMPDIR),/tmp)/carbon-disclosure-demo
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

BENCH_DIR  ?= $(or $(TMPDIR),/tmp)/carbon-disclosure-bench
BENCH_ARGS ?= --billing-rows 1000000 --power-samples 1000000

.PHONY: demo test install install-dev system-deps clean schema bench

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

# Tools the tests use to look at outputs the way people do: poppler-utils (pdftotext / pdftoppm) reads
# the PDF; LibreOffice Calc recalculates the XLSX formulas. Installed only when missing, with apt-get as root.
system-deps:
	@missing=""; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v soffice  >/dev/null 2>&1 || missing="$$missing libreoffice-calc-nogui"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "note: missing$$missing (install them to run the PDF text and XLSX recalculation tests)"; fi; \
	fi

demo: $(STAMP_RUN)
	$(VENV)/bin/carbon-disclosure demo --out $(OUT) --force

test: $(STAMP_DEV) system-deps
	$(PY) -m pytest -q

schema: $(STAMP_RUN)
	$(VENV)/bin/carbon-disclosure schema --write schemas/disclosure.schema.json

clean:
	rm -rf $(VENV) out .pytest_cache

# Speed and memory figures (benchmarks/README.md): generate inputs of the chosen size, run, print the table.
bench: $(STAMP_RUN)
	$(PIP) install --quiet -e ".[bench]"
	$(PY) benchmarks/generate.py $(BENCH_ARGS) --out $(BENCH_DIR)
	$(PY) benchmarks/run.py $(BENCH_DIR)
