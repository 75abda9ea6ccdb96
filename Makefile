# The front door. `make demo` runs the main job end to end on embedded defaults;
# `make test` runs the whole test suite. Each installs what it needs (uv via pip).
PYTHON ?= python3
UV := $(PYTHON) -m uv
OUT ?= out/demo

.PHONY: demo test bootstrap sync browser bench ui clean

bootstrap:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv

# Bytecode compiled at install: machines that set PYTHONDONTWRITEBYTECODE would otherwise
# compile pandas, MLflow and the rest from source in every process (3 s per `import pandas`).
sync: bootstrap
	@$(UV) sync --frozen --all-groups --quiet --compile-bytecode

demo: sync
	$(UV) run --frozen dropout demo --out $(OUT)

# The browser tests drive Debian's Chromium (Playwright's own download is not reachable).
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		echo "warning: install Debian's chromium (apt-get install chromium) for the browser tests"; }

test: sync browser
	$(UV) run --frozen pytest -q

# The MLflow UI on the project's tracking store, opened on the A Luoi experiment's runs.
ui: sync
	$(UV) run --frozen dropout ui

bench: sync
	$(UV) run --frozen python benchmarks/simulate.py

clean:
	rm -rf out .pytest_cache .hypothesis
