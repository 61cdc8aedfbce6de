# Two commands do all set-up: `make demo` and `make test`. Both create/refresh .venv when needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo search-demo test slow proofs lint docs bench venv browser clean

venv: $(STAMP)

# torch==2.13.0 with pip first: the machine's pip configuration may hold a local CPU build (elsewhere: a normal
# wheel). The rest with uv when pip can install it (uv resolves and unpacks in parallel: the environment in about
# 75 s instead of 115 s with pip alone on the 2-core machine, the same packages), torch held at its version; with
# pip when uv cannot. Then bytecode compiled once, on every core (PYTHONDONTWRITEBYTECODE may forbid writing it at
# import; compileall's one complaint, a torch test file written for Python 3.12, is not ours to fix).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --no-compile torch==2.13.0
	@if $(PY) -m pip install -q --disable-pip-version-check --no-compile uv >/dev/null 2>&1; then \
	  echo "uv pip install -e '.[test]'"; \
	  $(VENV)/bin/uv pip install -q --python $(PY) -e '.[test]' torch==2.13.0 || \
	  $(PY) -m pip install -q --disable-pip-version-check --no-compile -e '.[test]'; \
	else $(PY) -m pip install -q --disable-pip-version-check --no-compile -e '.[test]'; fi
	@$(PY) -m compileall -q -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') >/dev/null || true
	@touch $(STAMP)

# Chromium for the page tests (tests/browser.py drives it with Playwright): from the system packages when missing
# and apt-get can run as root; otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing chromium (apt-get) for the browser tests"; \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	      echo "chromium could not be installed: the browser tests will skip"; \
	    else echo "no chromium and no root apt-get: the browser tests will skip"; fi; }

# One pytest worker per core (pytest-xdist), each test file on one worker (its module fixtures run once), every
# process (workers and the jobs they start) on one intra-op thread: the numbers do not depend on the machine's cores.
# `make test` is the inner loop: it leaves out the `slow` tests (jobs killed and resumed, DDP on two processes, the
# fuzz properties' larger draws, whole-job runs a faster test already covers): `make slow`; and the `proof` runs (a
# recipe's claim shown by minutes of real training): `make proofs`. CI runs all three.
TEST_WORKERS ?= auto
PYTEST := WANDB_MODE=offline OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile
test: $(STAMP) browser
	$(PYTEST) -m "not slow and not proof" $(PYTEST_ARGS)

slow: $(STAMP) browser
	$(PYTEST) -m "slow and not proof" $(PYTEST_ARGS)

proofs: $(STAMP)
	WANDB_MODE=offline OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -m proof $(PYTEST_ARGS)

# ruff (pinned in the test extra, configured in pyproject.toml): what CI checks before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The documentation site (mkdocs, Material theme, API pages from the docstrings) under site/; --strict: a broken
# link or reference fails the build.
docs: $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

demo: $(STAMP)
	$(PY) -m audiovae.demo outputs/demo/clips
	WANDB_MODE=offline $(PY) evaluate.py --config eval_demo

# An Optuna study of the demo enhancer's gain and cutoff on the same clips, two worker processes (docs: Search).
search-demo: $(STAMP)
	$(PY) -m audiovae.demo outputs/demo/clips
	WANDB_MODE=offline $(VENV)/bin/audiovae-search --config search_demo --workers 2

# Full-size benchmarks (random AudioLDM2-sized weights, built on first use); see README "Benchmarks".
bench: $(STAMP)
	$(PY) benchmarks/enhancer_overhead.py
	WANDB_MODE=offline $(PY) benchmarks/eval_throughput.py
	WANDB_MODE=offline $(PY) benchmarks/memory_vs_length.py
	$(PY) benchmarks/first_run_options.py
	$(PY) benchmarks/vs_plain_loop.py
	$(PY) benchmarks/shared_stft.py
	$(PY) benchmarks/train_steps.py
	$(PY) benchmarks/gan_proof.py
	WANDB_MODE=offline $(PY) benchmarks/generation_setting_cost.py

clean:
	rm -rf outputs wandb .pytest_cache
