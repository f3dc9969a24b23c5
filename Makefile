# make run: serve diffloom on http://127.0.0.1:8188   make test: the whole test suite (what CI runs)
# Both install everything they need on a fresh machine: venv, torch (CPU wheel unless CUDA is present), the project.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.diffloom-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test setup bench clean canvas canvas-test chromium

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and spelled exactly so: any other spelling pulls the CUDA wheels on a CPU machine.
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
	  $(PY) -m pip install -q torch; else $(PY) -m pip install -q torch==2.13.0; fi
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: setup canvas
	$(PY) -m diffloom serve

test: setup canvas canvas-test chromium
	$(PY) -m pytest -q -p no:cacheprovider

# The browser canvas (web/canvas): npm ci when the lock file changed, a build when any source is newer than it.
CANVAS     := web/canvas
CANVAS_NPM := $(CANVAS)/node_modules/.package-lock.json
CANVAS_SRC := $(shell find $(CANVAS)/src $(CANVAS)/public -type f 2>/dev/null) \
              $(addprefix $(CANVAS)/,index.html package.json vite.config.ts tsconfig.json)

canvas: $(CANVAS)/dist/index.html

$(CANVAS_NPM): $(CANVAS)/package-lock.json
	cd $(CANVAS) && npm ci --no-audit --no-fund
	touch $@

$(CANVAS)/dist/index.html: $(CANVAS_NPM) $(CANVAS_SRC)
	cd $(CANVAS) && npm run build

canvas-test: $(CANVAS_NPM)
	cd $(CANVAS) && npx vitest run

# The end-to-end tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
