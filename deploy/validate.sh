#!/usr/bin/env bash
# Checks the deployment files without Docker and without a cluster
# (`make validate`, and CI before the tests):
#
#   - deploy/docker-compose.yml, deploy/docker/Dockerfile, deploy/.env.example
#     against each other and the workspace;
#   - every Kubernetes overlay rendered and validated against the Kubernetes
#     JSON schemas (offline, from the kubernetes-validate package), the KEDA
#     objects against their schema, the references between objects, and the
#     queues KEDA watches against the bus topology (deploy/validate/);
#   - the message schemas in proto-schemas/ are those the domain types
#     generate, and the samples fit them (cargo test -p domain --test schemas).
#
# The Python tools live in their own venv, .local/validate-venv, installed
# from PyPI on first use and whenever the pinned versions below change.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.local/validate-venv"
REQUIREMENTS=("PyYAML==6.0.3" "jsonschema==4.26.0" "kubernetes-validate==1.37.0")
CARGO="${CARGO:-cargo}"

log() { printf 'validate: %s\n' "$*"; }

venv_ready() {
  [[ -x "$VENV/bin/python" ]] &&
    [[ "$(cat "$VENV/.requirements" 2>/dev/null)" == "${REQUIREMENTS[*]}" ]]
}

make_venv() {
  mkdir -p "$ROOT/.local"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 has no ensurepip without python3-venv.
    if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
      log "installing python3-venv"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; }
      rm -rf "$VENV"
      python3 -m venv "$VENV"
    else
      log "python3 -m venv failed: install python3-venv" >&2
      exit 1
    fi
  fi
  log "pip install ${REQUIREMENTS[*]} into ${VENV#"$ROOT"/}"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
  printf '%s' "${REQUIREMENTS[*]}" >"$VENV/.requirements"
}

cd "$ROOT"
venv_ready || make_venv

log "deployment files"
"$VENV/bin/python" deploy/validate/validate.py

log "message schemas (proto-schemas/)"
"$CARGO" test --quiet -p domain --test schemas
