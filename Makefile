# Entry points for development and CI. Needs only python3 (with venv and pip), node and npm.
#   make venv   virtualenv in .venv with the package (editable) and its test/docs extras
#   make npm    JavaScript packages for the JS test peers and the browser demo
#   make test   the whole test suite
#   make demo   the latency demo on http://127.0.0.1:5000
#   make docs   the Sphinx HTML docs in docs/_build/html (warnings are errors)
#   make clean  remove everything the targets above create

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
EXTRAS := test,client,asyncio_client,docs

# Every folder with a package.json gets its node_modules; a lock file makes it `npm ci`.
NPM_DIRS := $(patsubst %/package.json,%,$(wildcard tests/js/package.json examples/server/wsgi/package.json))
NPM_STAMPS := $(addsuffix /node_modules/.installed,$(NPM_DIRS))
NPM_FLAGS := --no-audit --no-fund

PYTEST_ARGS ?=

.PHONY: all venv npm system-deps test demo docs clean

all: test

venv: $(VENV_STAMP)

$(VENV_STAMP): setup.cfg setup.py pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

npm: $(NPM_STAMPS)

.SECONDEXPANSION:
%/node_modules/.installed: %/package.json $$(wildcard $$*/package-lock.json)
	cd $* && if [ -f package-lock.json ]; then npm ci $(NPM_FLAGS); else npm install $(NPM_FLAGS); fi
	touch $@

# nginx for the scale-out tests: installed when missing and we may (root + apt)
system-deps:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; \
	  else echo "nginx is not installed: its tests will be skipped"; fi

test: venv npm system-deps
	$(VPY) -m pytest -n 2 --durations=15 $(PYTEST_ARGS) tests

demo: venv npm
	@echo "Open http://127.0.0.1:5000 in a browser (Ctrl+C stops the demo)."
	$(VPY) examples/server/wsgi/latency.py

docs: venv
	$(VPY) -m sphinx -W -E -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build build dist *.egg-info .pytest_cache .hypothesis
	rm -rf $(addsuffix /node_modules,$(NPM_DIRS))
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
