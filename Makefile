# fleetops.release: developer and CI entry points.
#   make test   install what the tests need, then run every test (what CI runs)
#   make demo   publish the examples to a local S3 and release them to three nodes
#   make fresh-check   make test as a new user: a fresh clone of HEAD and an empty HOME (BURNERS=2 loads the CPU)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
AWSCLI_VENV := $(CURDIR)/.tmp/awscli
STAGE_ROOT := $(CURDIR)/.tmp/stage
STAGE := $(STAGE_ROOT)/ansible_collections/fleetops/release
UNIT_ROOT := $(CURDIR)/.tmp/collections
# The PATH make was started with, for fresh-check's clean environment.
ORIGINAL_PATH := $(PATH)
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export PATH := $(BIN):$(PATH)

.PHONY: help test deps system-deps venv awscli test-home stage sanity units lint docs-check integration lock clean demo demo-test molecule fresh-check

help:
	@echo "make test    install test dependencies and run sanity, units, lint and integration tests"
	@echo "make units   unit tests only (fast)"
	@echo "make demo    publish the examples to a local S3 and release them to three nodes"
	@echo "make fresh-check  make test on a fresh clone of HEAD with an empty HOME (BURNERS=N, RUNS=N)"

test: deps
	@start=$$(date +%s); \
	for step in sanity units lint integration molecule demo-test; do \
	  t0=$$(date +%s); $(MAKE) --no-print-directory $$step; \
	  echo "== $$step passed in $$(( $$(date +%s) - t0 )) s"; \
	done; \
	echo "== make test passed in $$(( $$(date +%s) - start )) s"

deps: system-deps venv awscli test-home

# Debian packages the tests use. With CI=true a missing package is a failure, never a skip.
SYSTEM_PACKAGES := shellcheck openssh-server openssh-client iproute2 util-linux haproxy nginx
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "== installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -qq update; \
	    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -qq install -y --no-install-recommends $$missing >/dev/null; \
	  elif [ "$${CI:-}" = true ]; then echo "missing Debian packages:$$missing (CI needs root to install them)"; exit 1; \
	  else echo "note: missing Debian packages:$$missing; tests that need them will skip (run as root to install)"; fi; \
	fi

venv: $(VENV)/.installed
$(VENV)/.installed: requirements/test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements/test.txt
	touch $@

# The AWS CLI lives in its own venv: it pins a botocore that differs from boto3's.
awscli: $(AWSCLI_VENV)/.installed
$(AWSCLI_VENV)/.installed: requirements/awscli.txt
	test -x $(AWSCLI_VENV)/bin/python || $(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/awscli.txt
	touch $@

# What the first ansible-test run of a user creates under ~/.ansible/test, made once here before anything runs
# ansible-test: its SSH key pair (made as ansible-test makes it, so it never wants to make its own) and the
# offline get-pip stand-in. The two integration lanes start at the same moment; left to them, both try to create
# the key and the slower one stops at ssh-keygen's "Overwrite (y/n)?".
ANSIBLE_TEST_HOME := $(HOME)/.ansible/test
test-home:
	mkdir -p $(ANSIBLE_TEST_HOME)/cache
	cp tests/utils/get_pip_offline.py $(ANSIBLE_TEST_HOME)/cache/get_pip_24_2.py
	@if [ ! -f $(ANSIBLE_TEST_HOME)/id_rsa ] || [ ! -f $(ANSIBLE_TEST_HOME)/id_rsa.pub ]; then \
	  rm -f $(ANSIBLE_TEST_HOME)/id_rsa $(ANSIBLE_TEST_HOME)/id_rsa.pub; \
	  ssh-keygen -m PEM -q -t rsa -N '' -f $(ANSIBLE_TEST_HOME)/id_rsa; \
	  sed -i -E 's/(BEGIN|END) PRIVATE KEY/\1 RSA PRIVATE KEY/' $(ANSIBLE_TEST_HOME)/id_rsa; \
	  echo "== made ansible-test's SSH key $(ANSIBLE_TEST_HOME)/id_rsa"; \
	fi

lock:
	rm -rf .tmp/lock && $(PYTHON) -m venv .tmp/lock && .tmp/lock/bin/pip install -q -r requirements/test.in
	.tmp/lock/bin/pip freeze --exclude-editable | sort > requirements/test.txt

# ansible-test wants the tree at .../ansible_collections/fleetops/release: stage a copy of
# every file git tracks or would track (so new files count before they are committed).
stage:
	rm -rf $(STAGE_ROOT) && mkdir -p $(STAGE)
	git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'if test -e "{}"; then printf "%s\0" "{}"; fi' \
	  | tar --null -T - -cf - | tar -xf - -C $(STAGE)
	@if [ "$${CI:-}" = true ]; then touch $(STAGE)/tests/.ci-required; fi
	# ansible-test lists files through git when a repository encloses the tree; give the copy its own.
	cd $(STAGE) && git init -q && git add -A

$(UNIT_ROOT)/ansible_collections/fleetops/release:
	mkdir -p $(UNIT_ROOT)/ansible_collections/fleetops
	ln -sfn $(CURDIR) $@

sanity: stage test-home
	cd $(STAGE) && timeout 1800 ansible-test sanity --venv --python 3.11 --color no

units: $(UNIT_ROOT)/ansible_collections/fleetops/release
	ANSIBLE_COLLECTIONS_PATH=$(UNIT_ROOT) timeout 600 $(BIN)/pytest -q -n 2 --ansible-unit-inject-only -p no:cacheprovider tests/unit

# ansible-lint gets a HOME of its own: a copy of this collection that molecule or ansible-galaxy left in
# ~/.ansible/collections would otherwise shadow the checkout and hide its newest modules.
# ruff (ruff.toml), yamllint (.yamllint) and shellcheck (.shellcheckrc) over every file of their kind, then
# ansible-lint and the changelog fragments.
lint: docs-check
	ruff check --no-cache .
	yamllint -s .
	scripts=$$($(BIN)/python tests/utils/shell_scripts.py); shellcheck $$scripts; echo "shellcheck: $$(echo "$$scripts" | wc -l) scripts"
	mkdir -p .tmp/lint-home
	HOME=$(CURDIR)/.tmp/lint-home ANSIBLE_COLLECTIONS_PATH=$(UNIT_ROOT) timeout 600 ansible-lint --profile production --offline -q
	antsibull-changelog lint

docs-check: $(UNIT_ROOT)/ansible_collections/fleetops/release
	ANSIBLE_COLLECTIONS_PATH=$(UNIT_ROOT) $(BIN)/python tests/utils/docs_check.py

# Without TARGETS, two lanes run side by side, each from its own copy of the staged tree (ansible-test keeps its
# output there): LANE_A's targets in one, every other target in the other. Targets never share ports, bridges or
# work directories (each picks free loopback ports and derives its test hosts' network from its own directory),
# so the lanes are independent; each lane's log is printed when both are done, every line stamped with the lane
# and its second.
LANE_A := lb_rolling recap_alert release_abort repo_info
ANSIBLE_TEST_INTEGRATION := AWSCLI_BIN=$(AWSCLI_VENV)/bin/aws timeout 3000 ansible-test integration --local --allow-destructive --python 3.11 --color no
integration: stage test-home
	@if [ -n "$(TARGETS)" ]; then cd $(STAGE) && $(ANSIBLE_TEST_INTEGRATION) $(TARGETS); exit; fi; \
	rm -rf $(STAGE_ROOT)-b && cp -a $(STAGE_ROOT) $(STAGE_ROOT)-b; \
	lane() { local name=$$1 dir=$$2; shift 2; \
	  ( cd $$dir && $(ANSIBLE_TEST_INTEGRATION) "$$@" ) 2>&1 | { SECONDS=0; while IFS= read -r line; do printf '[%s %4ds] %s\n' "$$name" "$$SECONDS" "$$line"; done; } > $(STAGE_ROOT)-$$name.log; \
	  return "$${PIPESTATUS[0]}"; }; \
	lane a $(STAGE) $(LANE_A) & a=$$!; \
	lane b $(STAGE_ROOT)-b/ansible_collections/fleetops/release $(addprefix --exclude ,$(LANE_A)) & b=$$!; \
	rc_a=0; rc_b=0; wait $$a || rc_a=$$?; wait $$b || rc_b=$$?; \
	cat $(STAGE_ROOT)-a.log $(STAGE_ROOT)-b.log; \
	echo "== integration lane a ($(LANE_A)): exit $$rc_a; lane b (the rest): exit $$rc_b"; \
	test $$rc_a = 0 && test $$rc_b = 0

# The README's second command: the whole product on one machine in under two minutes.
demo: venv $(UNIT_ROOT)/ansible_collections/fleetops/release
	timeout 300 $(BIN)/python examples/demo/run.py

# The deploy role converged on the SSH test hosts, twice (the second must change nothing).
molecule: venv $(UNIT_ROOT)/ansible_collections/fleetops/release
	@if [ "$$(id -u)" != 0 ]; then \
	  if [ "$${CI:-}" = true ]; then echo "molecule needs root for the SSH test hosts"; exit 1; fi; \
	  echo "SKIP molecule: needs root for the SSH test hosts"; exit 0; fi; \
	ANSIBLE_COLLECTIONS_PATH=$(UNIT_ROOT) ANSIBLE_PYTHON_INTERPRETER=$(BIN)/python timeout 1200 $(BIN)/molecule test

# make demo as a test: both node kinds, nothing left running (no process of the demo's own session, no empty new network
# namespace: other tests may run beside it). The README's figure (about 25 s) is what it takes on a quiet
# machine; the bound here is only a safety net for a hung run, as generous as make demo's own.
demo-test: venv $(UNIT_ROOT)/ansible_collections/fleetops/release
	@for mode in "" --local; do \
	  t0=$$(date +%s); before=$$(ip netns list 2>/dev/null | cut -d' ' -f1 | sort); \
	  setsid --wait bash -c 'echo $$$$ > .tmp/demo.sid; exec timeout 300 $(BIN)/python examples/demo/run.py '"$$mode" \
	    > .tmp/demo$$mode.log 2>&1 || { cat .tmp/demo$$mode.log; exit 1; }; \
	  grep -q "node states:" .tmp/demo$$mode.log && grep -q "done; everything the demo started is stopped" .tmp/demo$$mode.log; \
	  test $$(grep -c "active on 1.1.0" .tmp/demo$$mode.log) = 3 || { cat .tmp/demo$$mode.log; exit 1; }; \
	  left=$$(pgrep -s "$$(cat .tmp/demo.sid)" -a || true); \
	  test -z "$$left" || { echo "demo left processes running: $$left"; exit 1; }; \
	  for ns in $$(comm -13 <(echo "$$before") <(ip netns list 2>/dev/null | cut -d' ' -f1 | sort)); do \
	    test -n "$$(ip netns pids $$ns 2>/dev/null)" || { echo "demo left network namespace $$ns"; exit 1; }; done; \
	  echo "demo $${mode:-(ssh when root)}: $$(( $$(date +%s) - t0 )) s"; \
	done

# make test as a new user meets it: a fresh clone of HEAD (committed work only) in a temporary directory and a
# fresh, empty HOME, with CI=true. RUNS=2 runs make test a second time in the same HOME; BURNERS=N keeps N
# CPU-bound processes running beside it the whole time. Prints the time of each run.
RUNS ?= 1
BURNERS ?= 0
fresh-check:
	@work=$$(mktemp -d /tmp/fleetops-fresh.XXXXXX); \
	burners=""; for i in $$(seq 1 $(BURNERS)); do sha256sum /dev/zero & burners="$$burners $$!"; done; \
	trap 'test -z "$$burners" || kill $$burners 2>/dev/null; true' EXIT; \
	git clone -q --no-local $(CURDIR) $$work/repo; mkdir $$work/home; \
	echo "== fresh-check: clone of $$(git rev-parse --short HEAD) in $$work/repo, HOME=$$work/home, $(BURNERS) CPU burner(s)"; \
	for run in $$(seq 1 $(RUNS)); do \
	  t0=$$(date +%s); \
	  ( cd $$work/repo && env -i HOME=$$work/home PATH="$(ORIGINAL_PATH)" LANG=C.UTF-8 CI=true make --no-print-directory test ) > $$work/run$$run.log 2>&1 \
	    || { tail -150 $$work/run$$run.log; echo "== fresh-check run $$run FAILED after $$(( $$(date +%s) - t0 )) s; log: $$work/run$$run.log"; exit 1; }; \
	  grep '^== ' $$work/run$$run.log; \
	  echo "== fresh-check run $$run passed in $$(( $$(date +%s) - t0 )) s (log: $$work/run$$run.log)"; \
	done; \
	( cd $$work/repo && $(MAKE) --no-print-directory clean ) >/dev/null 2>&1 || true

clean:
	rm -rf .tmp tests/output collections
