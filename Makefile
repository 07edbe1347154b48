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

# Debian packages for the tests, installed when missing and we may (root + apt): nginx for the
# scale-out tests, Chromium and its driver for the browser test. Tests whose package is missing
# are skipped, with the reason.
system-deps:
	@missing=; \
	command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || missing="$$missing nginx-light"; \
	test -x /usr/bin/chromium || missing="$$missing chromium fonts-liberation"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing:$$missing"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } || \
	    echo "could not install$$missing: the tests that need them will be skipped"; \
	else echo "not installed:$$missing (the tests that need them will be skipped)"; fi

test: venv npm system-deps
	$(VPY) -m pytest -n 2 -rs --durations=15 $(PYTEST_ARGS) tests

demo: venv npm
	@echo "Open http://127.0.0.1:5000 in a browser (Ctrl+C stops the demo)."
	$(VPY) examples/server/wsgi/latency.py

docs: venv
	$(VPY) -m sphinx -W -E -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build build dist *.egg-info .pytest_cache .hypothesis
	rm -rf $(addsuffix /node_modules,$(NPM_DIRS))
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Benchmarks (not part of `make test`): ours vs python-engineio 4.15.1 vs the
# bare servers, written to benchmarks/RESULTS.md. Options go in BENCH_ARGS,
# e.g. make bench BENCH_ARGS='--modes threading --scenarios ws_echo,codec'.
BENCH_ARGS ?=

.PHONY: bench
bench: venv
	$(VPY) -m pip install --quiet -r benchmarks/requirements.txt
	$(VPY) benchmarks/run.py --python $(VPY) $(BENCH_ARGS)
