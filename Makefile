# mlp-parity: `make compare` runs the main job, `make test` runs the tests, `make bench` times the styles.
# Each creates .venv on first use and installs everything into it, torch pinned.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Where a local wheel directory exists (as on the project's CI machines), pip may use it.
PIP_LOCAL := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: venv test compare check bench examples notebooks golden clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(PIP_LOCAL) -c constraints.txt -e '.[test]'
	touch $@

# The suite on up to four of this machine's cores (pytest-xdist; each test runs at one thread), a file
# per worker at a time, so that a file's costly module-wide fixture (a wheel built and installed, the
# quick bench, a 500-step run) is made once. JOBS=0: the whole suite in this one process.
JOBS ?= $(shell $(PYTHON) -c "import os; print(min(4, len(os.sched_getaffinity(0))))" 2>/dev/null || echo 0)

test: venv
	$(PY) -m pytest -q -n $(JOBS) --dist loadfile --durations=15

compare: venv
	$(PY) -m parity compare $(ARGS)

# make check FILE=my_mlp.py [PRESET=relu] [STEPS=3]: your MLP against the reference, see docs/check.md
check: venv
	@test -n "$(FILE)" || { echo "usage: make check FILE=path/to/my_mlp.py (start from templates/mlp_numpy.py or templates/mlp_torch.py)"; exit 2; }
	$(PY) -m parity check $(FILE) $(if $(PRESET),--preset $(PRESET)) $(if $(STEPS),--steps $(STEPS))

bench: venv
	$(PY) -m parity bench

examples: venv
	$(PY) -m parity example all

# notebooks/<lesson>_seed.ipynb, made from each lesson's seed.py (the one source: edit seed.py, then this).
notebooks: venv
	$(PY) notebooks/make.py

# The reference traces the tests compare every style with (tests/compare/test_against.py), made
# with the pinned torch (2.13.0, CPU) in float64, one thread (the same bits on any core count):
# see "The reference as a file" in README.md.
golden: venv
	OMP_NUM_THREADS=1 $(PY) -m parity record --preset three-layer --style torch_nn --dtype float64 --device cpu \
		--out tests/golden/three-layer.safetensors
	OMP_NUM_THREADS=1 $(PY) -m parity record --preset two-layer --steps 2 --style torch_nn --dtype float64 \
		--device cpu --out tests/golden/two-layer.safetensors

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info
