# CADScribe developer entry points.
#
#   make stack-up      start RabbitMQ, SecantusDB (MongoDB), Garage (S3), check FreeCAD
#   make run           stack-up + build + start every service in the background
#   make test          stack-up + cargo test with .local/stack.env loaded
#   make stop          stop the services, then the stack
#
# Everything local (data, logs, pid files, Python venv, stack.env) lives in
# .local/ at the repo root; deploy/stack.sh does the work.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
STACK := deploy/stack.sh
ENV_FILE := .local/stack.env

# Service binaries started by `make run`, each from target/debug/<name>.
SERVICES := gateway ai-generator script-store freecad-worker output-watcher monitoring
# Instances of each worker `make run` starts (SCALE=2 make run, or make run SCALE=2).
SCALE ?= 1
# The build `make run` starts: debug, or release (optimized, as the images ship).
PROFILE ?= debug
RELEASE_FLAG := $(if $(filter release,$(PROFILE)),--release)

# Extra arguments: make test CARGO_TEST_ARGS='-p domain -- --nocapture'
CARGO_TEST_ARGS ?=
# Arguments for the benchmarks: make bench-pipeline ARGS='--jobs 20'
ARGS ?=

# Load stack.env into the recipe's shell (KEY=VALUE lines, sourced).
LOAD_ENV := set -a; . ./$(ENV_FILE); set +a

.PHONY: help stack-up stack-down stack-status stack-clean build run services-up \
	services-down stop test lint bench-pipeline bench-generator bench-executor bench-api web web-test

help:
	@sed -n '3,6p' Makefile | sed 's/^# *//'
	@echo "other targets: build web web-test lint stack-status stack-down stack-clean services-up services-down bench-pipeline bench-generator bench-executor bench-api chaos"

stack-up:
	bash $(STACK) up

stack-down:
	bash $(STACK) down

stack-status:
	bash $(STACK) status

stack-clean:
	SERVICES="$(SERVICES)" bash $(STACK) clean

build: web
	$(CARGO) build --workspace --bins $(RELEASE_FLAG)

# The web client (web/): its npm packages from the lock file, then the bundle
# in web/dist that the gateway serves at / (WEB_ROOT).
WEB_STAMP := web/node_modules/.installed

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web: $(WEB_STAMP)
	cd web && npm run build

# The client's unit tests (Vitest), and Chromium for its browser test
# (crates/e2e/tests/web.rs, which cargo test runs).
web-test: $(WEB_STAMP)
	bash web/scripts/ensure-chromium.sh
	cd web && npm test

# Prerequisites run left to right without -j; the recipe keeps services last.
run: stack-up build
	@$(MAKE) --no-print-directory services-up

services-up:
	bash web/scripts/ensure-s3-cors.sh
	SERVICES="$(SERVICES)" SCALE="$(SCALE)" PROFILE="$(PROFILE)" bash $(STACK) services-up
	@echo
	@echo "web client  http://127.0.0.1:8080/   (open it in a browser)"
	@echo "gateway     http://127.0.0.1:8080/api"
	@echo "monitoring  http://127.0.0.1:8090"
	@echo "health      ai-generator :8081  script-store :8082  freecad-worker :8083  output-watcher :8084"
	@echo "logs        .local/logs/<service>.log   stop with: make stop"

services-down:
	SERVICES="$(SERVICES)" bash $(STACK) services-down

stop: services-down
	bash $(STACK) down

# The README's test command: the whole workspace against the local stack.
test: stack-up web web-test
	$(CARGO) build --workspace --bins
	$(LOAD_ENV); $(CARGO) test --workspace --all-targets $(CARGO_TEST_ARGS)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The offline generator on its prompt suite (crates/cadgen/bench): correct,
# refused and wrong per style, and the time per prompt; then every part the
# suite makes built once in FreeCAD (warm), with the FreeCAD time per part
# family. Needs FreeCAD (make stack-up), not the services;
# ARGS='path/to/other-suite.tsv' runs another suite.
bench-generator:
	$(CARGO) run -q --release -p cadgen --bin bench-generator -- $(ARGS)
	$(CARGO) run -q -p e2e --bin bench-executor -- --suite $(or $(ARGS),crates/cadgen/bench/prompts.tsv)

# The FreeCAD stage, cold against warm, on the same catalogue jobs; needs
# FreeCAD (make stack-up), not the services. ARGS='--jobs 40'.
bench-executor:
	$(CARGO) run -q -p e2e --bin bench-executor -- $(ARGS)

# The API's reads at fixed request rates against the release build of the
# gateway (started by the benchmark on port 8180); needs make stack-up.
# ARGS='--rates 250,500 --seconds 10 --projects 40 --read-cache 0'.
bench-api:
	$(CARGO) build -q --release -p gateway
	$(LOAD_ENV); $(CARGO) run -q -p e2e --bin bench-api -- $(ARGS)

# Needs the system running (make run); ARGS='--jobs 50 --projects 5'.
bench-pipeline:
	$(LOAD_ENV); $(CARGO) run -q -p e2e --bin bench-pipeline -- $(ARGS)

# A soak under faults (docs/OPERATIONS.md): starts the system with two
# instances of each worker, then submits jobs while killing and restarting
# its pieces, and checks nothing was lost. Restarts the shared stack's
# broker, database server and object store: run it on a quiet machine.
# ARGS='--jobs 60 --minutes 2 --every 15 --seed 7'.
.PHONY: chaos
chaos: stack-up build
	@$(MAKE) --no-print-directory services-up SCALE=2
	$(LOAD_ENV); $(CARGO) run -q -p e2e --bin chaos -- $(ARGS)

# Deployment files (compose, Dockerfile, Kubernetes, message schemas),
# checked without Docker or a cluster; see deploy/validate.sh.
.PHONY: validate
validate:
	bash deploy/validate.sh
