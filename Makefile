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

# Extra arguments: make test CARGO_TEST_ARGS='-p domain -- --nocapture'
CARGO_TEST_ARGS ?=
# Arguments for the pipeline benchmark: make bench-pipeline ARGS='--jobs 20'
ARGS ?=

# Load stack.env into the recipe's shell (plain KEY=VALUE lines).
LOAD_ENV := set -a; . ./$(ENV_FILE); set +a

.PHONY: help stack-up stack-down stack-status stack-clean build run services-up \
	services-down stop test lint bench-pipeline

help:
	@sed -n '3,6p' Makefile | sed 's/^# *//'
	@echo "other targets: build lint stack-status stack-down stack-clean services-up services-down bench-pipeline"

stack-up:
	bash $(STACK) up

stack-down:
	bash $(STACK) down

stack-status:
	bash $(STACK) status

stack-clean:
	SERVICES="$(SERVICES)" bash $(STACK) clean

build:
	$(CARGO) build --workspace --bins

# Prerequisites run left to right without -j; the recipe keeps services last.
run: stack-up build
	@$(MAKE) --no-print-directory services-up

services-up:
	SERVICES="$(SERVICES)" bash $(STACK) services-up
	@echo
	@echo "gateway     http://127.0.0.1:8080"
	@echo "monitoring  http://127.0.0.1:8090"
	@echo "health      ai-generator :8081  script-store :8082  freecad-worker :8083  output-watcher :8084"
	@echo "logs        .local/logs/<service>.log   stop with: make stop"

services-down:
	SERVICES="$(SERVICES)" bash $(STACK) services-down

stop: services-down
	bash $(STACK) down

# The README's test command: the whole workspace against the local stack.
test: stack-up
	$(CARGO) build --workspace --bins
	$(LOAD_ENV); $(CARGO) test --workspace --all-targets $(CARGO_TEST_ARGS)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Needs the system running (make run); ARGS='--jobs 50 --projects 5'.
bench-pipeline:
	$(LOAD_ENV); $(CARGO) run -q -p e2e --bin bench-pipeline -- $(ARGS)

# Deployment files (compose, Dockerfile, Kubernetes, message schemas),
# checked without Docker or a cluster; see deploy/validate.sh.
.PHONY: validate
validate:
	bash deploy/validate.sh
