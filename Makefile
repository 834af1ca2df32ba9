# Stampede: `make up` runs the whole system locally; `make test` runs every test.
# Only Python 3.11+ is needed: uv is installed into .tools/, the project into .venv/.

PYTHON ?= python3
UV_VERSION ?= 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: install chromium promtool up test test-unit test-integration test-e2e lint bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

up: install
	$(PY) -m stampede_devstack up

# drops and a short, seeded stampede in the system `make up` runs (localhost only; ~40 s)
demo: install
	$(PY) -m stampede_devstack demo

test: install chromium promtool
	$(PY) -m pytest -q -p no:cacheprovider

test-unit: install promtool
	$(PY) -m pytest -q tests/unit

test-integration: install
	$(PY) -m pytest -q tests/integration

test-e2e: install chromium
	$(PY) -m pytest -q tests/e2e

# the browser tests drive Debian's Chromium (Playwright never downloads a browser here)
chromium:
	@command -v chromium >/dev/null 2>&1 || [ -n "$$CHROMIUM_PATH" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: the browser tests (tests/e2e/browser) will be skipped."; \
	    echo "Install it with 'sudo apt-get install chromium' (Debian/Ubuntu), or set CHROMIUM_PATH."; \
	  fi; }

# the alert rules' checks and unit tests (tests/unit/deploy/test_observability.py) run
# Debian's promtool, from the package prometheus (on a host run by systemd the package also
# enables its own Prometheus service: `systemctl disable --now prometheus` if unwanted)
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's prometheus package for promtool (alert rule tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else \
	    echo "promtool is missing: the alert rule tests (tests/unit/deploy/test_observability.py) will be skipped."; \
	    echo "Install it with 'sudo apt-get install prometheus' (Debian/Ubuntu)."; \
	  fi; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(foreach p,contracts runtime devstack gateway inventory orders notifier,-p stampede_$(p))
	$(VENV)/bin/mypy bench

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .stampede
