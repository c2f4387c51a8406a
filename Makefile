# mlp-parity: `make compare` runs the main job, `make test` runs the tests.
# Both create .venv on first use and install everything into it, torch pinned.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Where a local wheel directory exists (as on the project's CI machines), pip may use it.
PIP_LOCAL := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: venv test compare examples clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(PIP_LOCAL) -c constraints.txt -e '.[test]'
	touch $@

test: venv
	$(PY) -m pytest -q

compare: venv
	$(PY) -m parity compare

examples: venv
	$(PY) -m parity example all

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
