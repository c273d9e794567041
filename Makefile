# The newcomer's commands: `make demo` and `make test`. Both set up what is missing first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup setup-test demo test lint typecheck pytest bench-quick bench lock clean

setup: $(STAMP)

# System packages, the virtual environment and the package itself, at the exact
# versions of constraints.txt. Redone when any of the inputs change.
$(STAMP): pyproject.toml constraints.txt deploy/apt-packages.txt
	deploy/system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# What the tests need beyond the program: the virtual sound hub (PipeWire and friends), and on
# amd64 a kernel GPIO chip in a virtual machine (elsewhere its test says what is missing).
setup-test: setup
	deploy/system-packages.sh deploy/apt-packages-test.txt
	if [ "$$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then \
		deploy/system-packages.sh deploy/apt-packages-gpiosim.txt; fi

demo: setup
	$(BIN)/showctl run --sim shows/demo.yaml --capture captures

test: lint typecheck pytest bench-quick

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup-test
	$(BIN)/pytest

# The benchmarks in quick mode: they run the real paths and print their figures.
BENCHES := sync drift loop cost led_timing trigger_latency recovery loaded_starts actions effects soak calibrate multibox
# The last line says which targets were missed; a miss does not fail (timings are not asserted).
bench-quick: setup-test
	$(BIN)/python tests/bench/run.py --quick $(BENCHES)

# The full benchmarks, whose figures the README shows.
bench: setup-test
	$(BIN)/python tests/bench/run.py $(BENCHES)

# Refresh constraints.txt: resolve the newest versions allowed by pyproject.toml
# in a throwaway environment and record them exactly.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	{ echo '# Exact versions for make, CI and deploy/install.sh. Refresh with: make lock'; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .lock-venv .mypy_cache .ruff_cache .pytest_cache .hypothesis build *.egg-info
