# make run: serve diffloom on http://127.0.0.1:8188   make test: the whole test suite (what CI runs)
# Both install everything they need on a fresh machine: venv, torch (CPU wheel unless CUDA is present), the project.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.diffloom-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test setup bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and spelled exactly so: any other spelling pulls the CUDA wheels on a CPU machine.
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
	  $(PY) -m pip install -q torch; else $(PY) -m pip install -q torch==2.13.0; fi
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: setup
	$(PY) -m diffloom serve

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
