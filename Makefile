# Two commands do all set-up: `make demo` and `make test`. Both create/refresh .venv when needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench venv clean

venv: $(STAMP)

# torch==2.13.0 first: a local CPU build on the project machines, a normal wheel elsewhere.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

test: $(STAMP)
	WANDB_MODE=offline $(PY) -m pytest -q $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m audiovae.demo outputs/demo/clips
	WANDB_MODE=offline $(PY) evaluate.py --config eval_demo

# Full-size benchmarks (random AudioLDM2-sized weights, built on first use); see README "Benchmarks".
bench: $(STAMP)
	$(PY) benchmarks/enhancer_overhead.py
	WANDB_MODE=offline $(PY) benchmarks/eval_throughput.py
	WANDB_MODE=offline $(PY) benchmarks/memory_vs_length.py

clean:
	rm -rf outputs wandb .pytest_cache
