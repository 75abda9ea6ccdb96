# The front door. `make demo` runs the main job end to end on embedded defaults;
# `make test` runs the whole test suite. Each installs what it needs (uv via pip).
PYTHON ?= python3
UV := $(PYTHON) -m uv
OUT ?= out/demo

.PHONY: demo test bootstrap sync bench clean

bootstrap:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv

sync: bootstrap
	@$(UV) sync --frozen --all-groups --quiet

demo: sync
	$(UV) run --frozen dropout demo --out $(OUT)

test: sync
	$(UV) run --frozen pytest -q

bench: sync
	$(UV) run --frozen python benchmarks/simulate.py

clean:
	rm -rf out .pytest_cache .hypothesis
