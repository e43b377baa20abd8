#!/usr/bin/env bash
# Local CADScribe stack: RabbitMQ, a MongoDB-compatible server (SecantusDB),
# an S3-compatible object store (Garage), an SQS-compatible server (moto, for
# BUS_BACKEND=sqs) and FreeCAD, without Docker.
#
#   deploy/stack.sh up             start (or reuse) every piece, write .local/stack.env
#   deploy/stack.sh up PIECE       only that piece: rabbitmq, mongodb, sqs, s3 or freecad
#                                  (to bring back one that stopped; the env file is kept)
#   deploy/stack.sh status         print each piece up/down (exit 1 if one is down)
#   deploy/stack.sh down           stop what this checkout started; data is kept
#   deploy/stack.sh clean          down, then delete local data, logs and env file
#   deploy/stack.sh services-up    start the service binaries from target/debug
#                                  (target/release with PROFILE=release)
#                                  (SCALE=N: N instances of each worker)
#   deploy/stack.sh services-down  stop them
#   deploy/stack.sh env            print the path of the env file
#
# Everything this script creates lives under .local/ at the repo root
# (git-ignored): the Python venv, data, logs, pid files and stack.env.
# It never prompts, so it runs the same on a laptop and in CI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
STACK_DIR="$LOCAL/stack"
LOG_DIR="$LOCAL/logs"
RUN_DIR="$LOCAL/run"
VENV="$LOCAL/venv"
ENV_FILE="$LOCAL/stack.env"
TEMPLATE_DIR="$ROOT/deploy/local"

# --- fixed local settings -----------------------------------------------------
# These are development-only values for a loopback-only stack; they are fixed
# so that tests, services and humans can all rely on the same credentials.
AMQP_PORT=5672
AMQP_URL="amqp://guest:guest@127.0.0.1:${AMQP_PORT}/%2f"

MONGO_PORT=27017
# SecantusDB advertises itself as a one-node replica set named "secantus";
# directConnection keeps drivers from trying to discover other members.
# retryWrites=false: SecantusDB keeps a record of every retryable write for
# 30 minutes, up to 10 000, and scans (past the cap, sorts) all of them on
# each new one, so with retryable writes its cost per write grows with the
# writes before it (saturation fell from 6.5 to 5.3 jobs/s over three runs
# of 60 jobs). A one-node server has no failover for a driver's retry to
# ride out, and every write of the job path is made safe to repeat anyway
# (a redelivered message repeats its handler's writes).
MONGODB_URI="mongodb://127.0.0.1:${MONGO_PORT}/?directConnection=true&retryWrites=false"
DATABASE_NAME=cadscribe
# The venv's packages: SecantusDB and its client, moto's server (SQS), and
# Schemathesis, which the API conformance test (crates/e2e/tests/api_conformance.rs)
# runs against the gateway's OpenAPI document.
PYTHON_REQUIREMENTS=("secantusdb==0.7.0b3" "pymongo>=4,<5" "moto[server]==5.2.5" "schemathesis==4.32.5")

# moto keeps queues in memory; it serves any region name (the stack's is
# Garage's) only when told to.
SQS_PORT=9324
SQS_ENDPOINT="http://127.0.0.1:${SQS_PORT}"

S3_PORT=3900
GARAGE_ADMIN_PORT=3903
# Pinned so the CLI syntax used below stays the one it was written against.
GARAGE_VERSION="${GARAGE_VERSION:-2.5.0}"
S3_REGION=garage
S3_BUCKET=cadscribe
S3_KEY_NAME=cadscribe-local
# Garage key ids are "GK" + 24 hex digits, secrets are 64 hex digits.
S3_ACCESS_KEY_ID=GKca05c41be10ca1deadbeef00
S3_SECRET_ACCESS_KEY=ca05c41be10ca1deca05c41be10ca1deca05c41be10ca1deca05c41be10ca1de
S3_ENDPOINT="http://127.0.0.1:${S3_PORT}"

JWT_SECRET_KEY=cadscribe-local-development-jwt-secret-do-not-use-in-production

SERVICES_DEFAULT="gateway ai-generator script-store freecad-worker output-watcher monitoring"

# Set once `apt-get update` has run in this invocation, so it runs at most once.
APT_UPDATED=0

# --- output helpers -------------------------------------------------------------
log() { printf 'stack: %s\n' "$*"; }
warn() { printf 'stack: warning: %s\n' "$*" >&2; }

# die PIECE MESSAGE [LOGFILE]: fail loudly, naming the piece and showing its log.
die() {
  local piece="$1" message="$2" logfile="${3:-}"
  printf '\nstack: [%s] FAILED: %s\n' "$piece" "$message" >&2
  if [[ -n "$logfile" && -f "$logfile" ]]; then
    printf 'stack: last lines of %s:\n' "${logfile#"$ROOT"/}" >&2
    # Only the latest attempt: logs are appended to, each attempt after a
    # "==== " header line. Colour codes are stripped for readability.
    awk '/^==== /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$logfile" |
      sed 's/\x1b\[[0-9;]*m//g' | tail -n 40 | sed 's/^/    /' >&2
  fi
  exit 1
}

rel() { printf '%s' "${1#"$ROOT"/}"; }

# log_header LOGFILE TEXT: mark the start of an attempt in an appended log.
log_header() { printf '==== %s %s\n' "$(date -u +%FT%TZ)" "$2" >>"$1"; }

# --- generic helpers ------------------------------------------------------------
as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die apt "need root (or passwordless sudo) to run: $*"
  fi
}

# apt_install PIECE PACKAGE...: install Debian packages without any prompt.
apt_install() {
  local piece="$1"
  shift
  local apt_log="$LOG_DIR/apt.log"
  command -v apt-get >/dev/null 2>&1 || die "$piece" "apt-get not found; install $* by hand"
  if ((APT_UPDATED == 0)); then
    log "[$piece] apt-get update"
    log_header "$apt_log" "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update >>"$apt_log" 2>&1 ||
      die "$piece" "apt-get update failed" "$apt_log"
    APT_UPDATED=1
  fi
  log "[$piece] apt-get install $*"
  log_header "$apt_log" "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$apt_log" 2>&1 ||
    die "$piece" "apt-get install $* failed" "$apt_log"
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# pid_alive PIDFILE PATTERN: true if the pid file names a live process whose
# command line contains PATTERN (guards against a recycled pid after reboot).
pid_alive() {
  local pidfile="$1" pattern="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# start_daemon PIECE PIDFILE LOGFILE CMD...: run CMD detached in a new
# process group (setsid), so that Ctrl-C in `make` or the end of a CI job does not take it
# down. The child writes its own pid before exec'ing, which stays right whatever
# setsid does. fd 9 (the stack lock) is closed so the daemon does not hold it.
start_daemon() {
  local piece="$1" pidfile="$2" logfile="$3" i
  shift 3
  rm -f "$pidfile"
  log_header "$logfile" "starting: $*"
  # shellcheck disable=SC2016  # $$, $0 and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "$piece" "the process did not start" "$logfile"
}

# stop_pid NAME PIDFILE PATTERN: SIGTERM, wait up to 20 s, then SIGKILL.
stop_pid() {
  local name="$1" pidfile="$2" pattern="$3" pid i
  if ! pid_alive "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    return 0
  fi
  pid="$(<"$pidfile")"
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name did not stop within 20 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# wait_until PIECE SECONDS LOGFILE PIDFILE PATTERN CHECK...: poll CHECK until it
# succeeds; fail early if the process we started has died.
wait_until() {
  local piece="$1" seconds="$2" logfile="$3" pidfile="$4" pattern="$5"
  shift 5
  local deadline=$((SECONDS + seconds))
  while ! "$@" >/dev/null 2>&1; do
    if [[ -n "$pidfile" ]] && ! pid_alive "$pidfile" "$pattern"; then
      die "$piece" "the process exited during startup" "$logfile"
    fi
    ((SECONDS < deadline)) || die "$piece" "not ready after ${seconds} s" "$logfile"
    sleep 0.2
  done
}

# Serialise concurrent `up`/`down` runs (two `make test` at once, say).
take_lock() {
  exec 9>"$RUN_DIR/stack.lock"
  if ! flock -n 9; then
    log "another deploy/stack.sh is running here; waiting for it"
    flock -w 3600 9 || die stack "timed out waiting for the lock $(rel "$RUN_DIR/stack.lock")"
  fi
}

make_dirs() {
  mkdir -p "$STACK_DIR" "$LOG_DIR" "$RUN_DIR"
}

# --- RabbitMQ ---------------------------------------------------------------------
# amqp_answers: true if 127.0.0.1:5672 speaks AMQP 0-9-1 (the server replies to
# the protocol header with a frame whose first byte, the frame type, is 1).
amqp_answers() {
  # shellcheck disable=SC2016
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "AMQP\000\000\011\001" >&3
    [[ "$(head -c 1 <&3 | od -An -tx1 | tr -d " \n")" == 01 ]]
  ' "$AMQP_PORT" 2>/dev/null
}

rabbitmqctl_works() {
  command -v rabbitmqctl >/dev/null 2>&1 && timeout 30 rabbitmqctl -q ping >/dev/null 2>&1
}

rabbitmq_up() {
  local logfile="$LOG_DIR/rabbitmq.log" marker="$RUN_DIR/rabbitmq.started"
  if amqp_answers; then
    log "[rabbitmq] answering on 127.0.0.1:$AMQP_PORT"
    return 0
  fi
  rm -f "$marker"
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    apt_install rabbitmq rabbitmq-server
    # On hosts with an init system the package starts the broker itself.
    if amqp_answers || { sleep 3 && amqp_answers; }; then
      log "[rabbitmq] started by its package"
      return 0
    fi
  fi
  port_open "$AMQP_PORT" &&
    die rabbitmq "port $AMQP_PORT is taken by something that does not speak AMQP"
  log "[rabbitmq] starting rabbitmq-server -detached"
  log_header "$logfile" "rabbitmq-server -detached"
  rabbitmq-server -detached >>"$logfile" 2>&1 9>&- ||
    die rabbitmq "rabbitmq-server -detached failed (broker logs: /var/log/rabbitmq)" "$logfile"
  touch "$marker"
  # Erlang boots slowly on small machines; allow it two minutes.
  wait_until rabbitmq 120 "$logfile" "" "" amqp_answers
  log "[rabbitmq] up on 127.0.0.1:$AMQP_PORT"
}

rabbitmq_down() {
  local marker="$RUN_DIR/rabbitmq.started"
  if [[ -f "$marker" ]]; then
    log "stopping rabbitmq (started by this stack)"
    timeout 60 rabbitmqctl -q shutdown >/dev/null 2>&1 || warn "rabbitmqctl shutdown failed"
    rm -f "$marker"
  fi
}

# --- Python venv + SecantusDB ----------------------------------------------------------
venv_ready() {
  [[ -x "$VENV/bin/python" && -x "$VENV/bin/secantusd-py" && -x "$VENV/bin/moto_server" && -x "$VENV/bin/st" ]] &&
    [[ "$(cat "$VENV/.cadscribe-requirements" 2>/dev/null)" == "${PYTHON_REQUIREMENTS[*]}" ]] &&
    "$VENV/bin/python" -c 'import pymongo' >/dev/null 2>&1
}

venv_up() {
  local logfile="$LOG_DIR/venv.log"
  venv_ready && return 0
  if ! command -v python3 >/dev/null 2>&1; then
    apt_install venv python3 python3-venv
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "[venv] creating $(rel "$VENV")"
    log_header "$logfile" "python3 -m venv"
    if ! python3 -m venv "$VENV" >>"$logfile" 2>&1; then
      # Debian's python3 ships without ensurepip unless python3-venv is installed.
      rm -rf "$VENV"
      apt_install venv python3-venv
      python3 -m venv "$VENV" >>"$logfile" 2>&1 || die venv "python3 -m venv failed" "$logfile"
    fi
  fi
  log "[venv] pip install ${PYTHON_REQUIREMENTS[*]}"
  log_header "$logfile" "pip install ${PYTHON_REQUIREMENTS[*]}"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_REQUIREMENTS[@]}" \
    >>"$logfile" 2>&1 || die venv "pip install failed" "$logfile"
  printf '%s' "${PYTHON_REQUIREMENTS[*]}" >"$VENV/.cadscribe-requirements"
}

mongo_ping() {
  "$VENV/bin/python" - "$MONGODB_URI" <<'PY' >/dev/null 2>&1
import sys
import pymongo

client = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=1500, connectTimeoutMS=1500)
client.admin.command("ping")
PY
}

mongo_up() {
  local pidfile="$RUN_DIR/secantusdb.pid" logfile="$LOG_DIR/secantusdb.log"
  local data="$STACK_DIR/mongo"
  # A closed port answers at once; a ping of nothing waits out its timeout.
  if port_open "$MONGO_PORT" && mongo_ping; then
    if pid_alive "$pidfile" secantusd; then
      log "[mongodb] SecantusDB running (pid $(<"$pidfile"))"
    else
      log "[mongodb] something already answers pings on 127.0.0.1:$MONGO_PORT; reusing it"
    fi
    return 0
  fi
  if pid_alive "$pidfile" secantusd; then
    # Ours but not answering: probably still starting, so give it time.
    wait_until mongodb 60 "$logfile" "$pidfile" secantusd mongo_ping
    return 0
  fi
  port_open "$MONGO_PORT" &&
    die mongodb "port $MONGO_PORT is taken by something that does not answer a MongoDB ping"
  mkdir -p "$data"
  log "[mongodb] starting SecantusDB (data in $(rel "$data"))"
  start_daemon mongodb "$pidfile" "$logfile" "$VENV/bin/secantusd-py" \
    --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$data"
  wait_until mongodb 60 "$logfile" "$pidfile" secantusd port_open "$MONGO_PORT"
  wait_until mongodb 60 "$logfile" "$pidfile" secantusd mongo_ping
  log "[mongodb] up on 127.0.0.1:$MONGO_PORT (pid $(<"$pidfile"))"
}

# --- SQS (moto) ----------------------------------------------------------------------------
# sqs_answers: true if something on SQS_PORT answers an SQS ListQueues call
# (JSON protocol; moto does not check signatures).
sqs_answers() {
  curl -sf -o /dev/null --max-time 3 -X POST \
    -H "Content-Type: application/x-amz-json-1.0" -H "X-Amz-Target: AmazonSQS.ListQueues" \
    -d '{}' "$SQS_ENDPOINT/"
}

sqs_up() {
  local pidfile="$RUN_DIR/moto.pid" logfile="$LOG_DIR/moto.log"
  command -v curl >/dev/null 2>&1 || apt_install sqs curl
  if sqs_answers; then
    if pid_alive "$pidfile" moto_server; then
      log "[sqs] moto running (pid $(<"$pidfile"))"
    else
      log "[sqs] something already answers SQS on 127.0.0.1:$SQS_PORT; reusing it"
    fi
    return 0
  fi
  if ! pid_alive "$pidfile" moto_server; then
    port_open "$SQS_PORT" && die sqs "port $SQS_PORT is taken by something that does not answer SQS"
    log "[sqs] starting moto's server (queues live in memory)"
    start_daemon sqs "$pidfile" "$logfile" env MOTO_ALLOW_NONEXISTENT_REGION=true \
      "$VENV/bin/moto_server" -H 127.0.0.1 -p "$SQS_PORT"
  fi
  wait_until sqs 60 "$logfile" "$pidfile" moto_server sqs_answers
  log "[sqs] up on $SQS_ENDPOINT (pid $(<"$pidfile"))"
}

# --- Garage -----------------------------------------------------------------------------
GARAGE_DIR="$STACK_DIR/garage"
GARAGE_CONF="$GARAGE_DIR/garage.toml"
GARAGE_BIN=""

find_garage() {
  local candidate
  for candidate in "$(command -v garage 2>/dev/null || true)" \
    "${CARGO_HOME:-$HOME/.cargo}/bin/garage" "$HOME/.cargo/bin/garage"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
      GARAGE_BIN="$candidate"
      return 0
    fi
  done
  return 1
}

garage_install() {
  local logfile="$LOG_DIR/garage-install.log"
  find_garage && return 0
  command -v cargo >/dev/null 2>&1 ||
    die garage "no garage binary and no cargo to build one; install Rust first"
  # Garage's bundled SQLite/LMDB/libsodium need a C toolchain.
  command -v cc >/dev/null 2>&1 || apt_install garage build-essential pkg-config
  log "[garage] no garage binary found: building it with"
  log "[garage]   cargo install garage --locked --version $GARAGE_VERSION"
  log "[garage] this is a one-time build (about 15 minutes on 2 cores); log: $(rel "$logfile")"
  log_header "$logfile" "cargo install garage --locked --version $GARAGE_VERSION"
  cargo install garage --locked --version "$GARAGE_VERSION" >>"$logfile" 2>&1 ||
    die garage "cargo install garage failed" "$logfile"
  find_garage || die garage "cargo install finished but no garage binary was found" "$logfile"
}

# The CLI talks to the daemon over RPC using the secret in our config.
garage_cli() {
  RUST_LOG="${GARAGE_CLI_LOG:-warn}" "$GARAGE_BIN" -c "$GARAGE_CONF" "$@"
}

garage_render_config() {
  local secret_file="$GARAGE_DIR/rpc_secret"
  mkdir -p "$GARAGE_DIR/meta" "$GARAGE_DIR/data"
  if [[ ! -s "$secret_file" ]]; then
    # Generated once and kept: the node's identity and CLI access depend on it.
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$secret_file")
  fi
  local secret
  secret="$(<"$secret_file")"
  (umask 077 && sed -e "s|@GARAGE_DIR@|$GARAGE_DIR|g" -e "s|@RPC_SECRET@|$secret|g" \
    "$TEMPLATE_DIR/garage.toml.in" >"$GARAGE_CONF.tmp")
  mv "$GARAGE_CONF.tmp" "$GARAGE_CONF"
}

# s3_check: a SigV4-signed, path-style ListObjectsV2 on the bucket with the fixed
# key. Success means endpoint, key, bucket and permissions all work.
s3_check() {
  curl -sf -o /dev/null --max-time 5 \
    --aws-sigv4 "aws:amz:${S3_REGION}:s3" \
    --user "${S3_ACCESS_KEY_ID}:${S3_SECRET_ACCESS_KEY}" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "${S3_ENDPOINT}/${S3_BUCKET}?list-type=2&max-keys=1"
}

garage_health() {
  curl -sf -o /dev/null --max-time 3 "http://127.0.0.1:${GARAGE_ADMIN_PORT}/health"
}

# Give the single node a role, once. `garage status` lists a node that has no
# role yet as "NO ROLE ASSIGNED" (same wording in Garage 1.x and 2.x).
garage_layout() {
  local logfile="$1" status node_id version
  status="$(garage_cli status 2>&1)" || die garage "garage status failed: $status" "$logfile"
  grep -q "NO ROLE ASSIGNED" <<<"$status" || return 0
  node_id="$(garage_cli node id -q 2>/dev/null | cut -d@ -f1)"
  [[ -n "$node_id" ]] || die garage "could not read the node id" "$logfile"
  log "[garage] assigning a single-node layout to ${node_id:0:16}"
  garage_cli layout assign -z local -c 1G "$node_id" >>"$logfile" 2>&1 ||
    die garage "garage layout assign failed" "$logfile"
  # `layout apply` wants the next version number, i.e. current + 1.
  version="$(garage_cli layout show 2>/dev/null |
    sed -n 's/.*[Cc]urrent cluster layout version: *\([0-9][0-9]*\).*/\1/p' | head -n 1)"
  [[ -n "$version" ]] || die garage "could not read the layout version" "$logfile"
  garage_cli layout apply --version "$((version + 1))" >>"$logfile" 2>&1 ||
    die garage "garage layout apply failed" "$logfile"
}

garage_bucket_and_key() {
  local logfile="$1"
  if ! garage_cli bucket info "$S3_BUCKET" >/dev/null 2>&1; then
    log "[garage] creating bucket $S3_BUCKET"
    garage_cli bucket create "$S3_BUCKET" >>"$logfile" 2>&1 ||
      die garage "garage bucket create failed" "$logfile"
  fi
  if ! garage_cli key info "$S3_ACCESS_KEY_ID" >/dev/null 2>&1; then
    log "[garage] importing key $S3_KEY_NAME ($S3_ACCESS_KEY_ID)"
    # --yes: importing a key is refused without it (keys are normally generated).
    garage_cli key import --yes -n "$S3_KEY_NAME" "$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY" \
      >>"$logfile" 2>&1 || die garage "garage key import failed" "$logfile"
  fi
  if ! s3_check; then
    garage_cli bucket allow --read --write --owner "$S3_BUCKET" --key "$S3_ACCESS_KEY_ID" \
      >>"$logfile" 2>&1 || die garage "garage bucket allow failed" "$logfile"
  fi
}

garage_up() {
  local pidfile="$RUN_DIR/garage.pid" logfile="$LOG_DIR/garage.log"
  command -v curl >/dev/null 2>&1 || apt_install garage curl
  if ! pid_alive "$pidfile" garage && port_open "$S3_PORT"; then
    # Not ours (another checkout's, say). Fine if our fixed key works on it.
    if s3_check; then
      log "[garage] an S3 endpoint on 127.0.0.1:$S3_PORT already accepts the $S3_KEY_NAME key; reusing it"
      return 0
    fi
    die garage "port $S3_PORT is taken by something that rejects the $S3_KEY_NAME key (stop it, or run 'deploy/stack.sh up' from the checkout that owns it)"
  fi
  garage_install
  garage_render_config
  if ! pid_alive "$pidfile" garage; then
    log "[garage] starting $("$GARAGE_BIN" --version 2>/dev/null | head -n 1) (data in $(rel "$GARAGE_DIR"))"
    # NO_COLOR keeps ANSI escapes out of the log file.
    NO_COLOR=1 RUST_LOG="${RUST_LOG:-garage=info}" start_daemon garage "$pidfile" "$logfile" \
      "$GARAGE_BIN" -c "$GARAGE_CONF" server
  fi
  wait_until garage 60 "$logfile" "$pidfile" garage garage_cli status
  garage_layout "$logfile"
  wait_until garage 60 "$logfile" "$pidfile" garage garage_health
  garage_bucket_and_key "$logfile"
  wait_until garage 30 "$logfile" "$pidfile" garage s3_check
  log "[garage] up: S3 on $S3_ENDPOINT (pid $(<"$pidfile"))"
}

# --- FreeCAD ------------------------------------------------------------------------------
FREECAD_CMD=""

freecad_up() {
  if ! FREECAD_CMD="$(command -v freecadcmd 2>/dev/null)"; then
    apt_install freecad --no-install-recommends freecad-python3
    FREECAD_CMD="$(command -v freecadcmd 2>/dev/null)" ||
      die freecad "freecad-python3 is installed but freecadcmd is not on PATH" "$LOG_DIR/apt.log"
  fi
  log "[freecad] $FREECAD_CMD"
}

# --- env file and summary -----------------------------------------------------------------
write_env_file() {
  cat >"$ENV_FILE.tmp" <<EOF
# Written by deploy/stack.sh up; do not edit (it is rewritten on every up).
# KEY=VALUE lines (a value with & in double quotes): load with  set -a; . .local/stack.env; set +a
MONGODB_URI="$MONGODB_URI"
DATABASE_NAME=$DATABASE_NAME
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY
AWS_BUCKET_NAME=$S3_BUCKET
AWS_REGION=$S3_REGION
AWS_ENDPOINT_URL=$S3_ENDPOINT
AWS_ENDPOINT_URL_SQS=$SQS_ENDPOINT
AMQP_URL=$AMQP_URL
JWT_SECRET_KEY=$JWT_SECRET_KEY
FREECAD_CMD=$FREECAD_CMD
AI_PROVIDER=template
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

print_summary() {
  local ctl="no (tests that need it will fail)"
  rabbitmqctl_works && ctl="yes"
  printf '\n%-10s %-28s %s\n' PIECE ADDRESS NOTE
  printf '%-10s %-28s %s\n' RabbitMQ "127.0.0.1:$AMQP_PORT" "rabbitmqctl usable: $ctl"
  printf '%-10s %-28s %s\n' MongoDB "127.0.0.1:$MONGO_PORT" "SecantusDB, database $DATABASE_NAME"
  printf '%-10s %-28s %s\n' S3 "$S3_ENDPOINT" "Garage, bucket $S3_BUCKET, region $S3_REGION, path-style"
  printf '%-10s %-28s %s\n' SQS "$SQS_ENDPOINT" "moto, used with BUS_BACKEND=sqs"
  printf '%-10s %-28s %s\n' FreeCAD "$FREECAD_CMD" ""
  printf '\nenv file: %s  (load with: set -a; . %s; set +a)\n' "$(rel "$ENV_FILE")" "$(rel "$ENV_FILE")"
}

# --- commands -------------------------------------------------------------------------------
cmd_up() {
  make_dirs
  take_lock
  case "${1:-}" in
    "") ;;
    rabbitmq) rabbitmq_up ;;
    mongodb) venv_up && mongo_up ;;
    sqs) venv_up && sqs_up ;;
    s3) garage_up ;;
    freecad) freecad_up ;;
    *) die stack "unknown piece '$1' (rabbitmq, mongodb, sqs, s3 or freecad)" ;;
  esac
  [[ -z "${1:-}" ]] || return 0
  rabbitmq_up
  freecad_up
  venv_up
  mongo_up
  sqs_up
  garage_up
  write_env_file
  print_summary
}

cmd_down() {
  make_dirs
  take_lock
  stop_pid garage "$RUN_DIR/garage.pid" garage
  stop_pid moto "$RUN_DIR/moto.pid" moto_server
  stop_pid SecantusDB "$RUN_DIR/secantusdb.pid" secantusd
  rabbitmq_down
  log "down (data kept under $(rel "$STACK_DIR"))"
}

cmd_clean() {
  cmd_services_down
  cmd_down
  log "deleting $(rel "$STACK_DIR"), $(rel "$LOG_DIR") and $(rel "$ENV_FILE")"
  rm -rf "$STACK_DIR" "$LOG_DIR" "$ENV_FILE"
}

# status_line NAME STATE DETAIL
status_line() { printf '%-16s %-5s %s\n' "$1" "$2" "$3"; }

cmd_status() {
  local down=0 how
  if amqp_answers; then
    how="system"
    [[ -f "$RUN_DIR/rabbitmq.started" ]] && how="started by this stack"
    if rabbitmqctl_works; then how="$how, rabbitmqctl ok"; else how="$how, rabbitmqctl NOT usable"; fi
    status_line rabbitmq up "127.0.0.1:$AMQP_PORT ($how)"
  else
    status_line rabbitmq down "127.0.0.1:$AMQP_PORT"
    down=1
  fi

  if [[ -x "$VENV/bin/python" ]] && mongo_ping; then
    how="not started by this checkout"
    pid_alive "$RUN_DIR/secantusdb.pid" secantusd && how="SecantusDB pid $(<"$RUN_DIR/secantusdb.pid")"
    status_line mongodb up "127.0.0.1:$MONGO_PORT ($how)"
  else
    status_line mongodb down "127.0.0.1:$MONGO_PORT"
    down=1
  fi

  if command -v curl >/dev/null 2>&1 && s3_check; then
    how="not started by this checkout"
    pid_alive "$RUN_DIR/garage.pid" garage && how="Garage pid $(<"$RUN_DIR/garage.pid")"
    status_line s3 up "$S3_ENDPOINT ($how, bucket $S3_BUCKET)"
  else
    status_line s3 down "$S3_ENDPOINT"
    down=1
  fi

  if command -v curl >/dev/null 2>&1 && sqs_answers; then
    how="not started by this checkout"
    pid_alive "$RUN_DIR/moto.pid" moto_server && how="moto pid $(<"$RUN_DIR/moto.pid")"
    status_line sqs up "$SQS_ENDPOINT ($how)"
  else
    status_line sqs down "$SQS_ENDPOINT"
    down=1
  fi

  if how="$(command -v freecadcmd 2>/dev/null)"; then
    status_line freecad up "$how"
  else
    status_line freecad down "freecadcmd not on PATH"
    down=1
  fi

  local name id
  while read -r name id; do
    if pid_alive "$RUN_DIR/$id.pid" "$name"; then
      status_line "$id" up "pid $(<"$RUN_DIR/$id.pid"), log $(rel "$LOG_DIR/$id.log")"
    else
      status_line "$id" down "exited, see $(rel "$LOG_DIR/$id.log")"
    fi
  done < <(running_instances)
  return "$down"
}

# --- application services -------------------------------------------------------------------
# SERVICES (from the Makefile or the caller) is a space-separated list.
# shellcheck disable=SC2086  # word splitting is the point here
service_names() { printf '%s\n' ${SERVICES:-$SERVICES_DEFAULT}; }

# Workers scale out: SCALE=N starts N instances of each (the gateway and
# monitoring stay single; clients know one address).
is_worker() {
  case "$1" in
    ai-generator | script-store | freecad-worker | output-watcher) return 0 ;;
    *) return 1 ;;
  esac
}

# "name instance" lines, instance 1 first.
service_instances() {
  local scale="${SCALE:-1}" name n i
  for name in $(service_names); do
    n=1
    is_worker "$name" && n="$scale"
    for ((i = 1; i <= n; i++)); do
      printf '%s %s\n' "$name" "$i"
    done
  done
}

# The pid and log name of an instance: the service's name, then name-2, name-3…
instance_id() { if (($2 == 1)); then echo "$1"; else echo "$1-$2"; fi; }

# Every instance with a pid file, whatever SCALE it was started with.
running_instances() {
  local name file
  for name in $(service_names); do
    for file in "$RUN_DIR/$name.pid" "$RUN_DIR/$name"-[0-9]*.pid; do
      [[ -f "$file" ]] && printf '%s %s\n' "$name" "$(basename "$file" .pid)"
    done
  done
}

service_port() {
  case "$1" in
    gateway) echo 8080 ;;
    ai-generator) echo 8081 ;;
    script-store) echo 8082 ;;
    freecad-worker) echo 8083 ;;
    output-watcher) echo 8084 ;;
    monitoring) echo 8090 ;;
    *) echo "" ;;
  esac
}

cmd_services_up() {
  make_dirs
  [[ "${SCALE:-1}" =~ ^[1-9][0-9]?$ ]] ||
    die services "SCALE must be a whole number from 1 to 99 (got '${SCALE}')"
  [[ -f "$ENV_FILE" ]] || die services "$(rel "$ENV_FILE") is missing; run 'deploy/stack.sh up' first"
  local target="${CARGO_TARGET_DIR:-$ROOT/target}/${PROFILE:-debug}" name missing=()
  for name in $(service_names); do
    [[ -x "$target/$name" ]] || missing+=("$name")
  done
  ((${#missing[@]} == 0)) ||
    die services "no binary in $(rel "$target") for: ${missing[*]} (run 'make build PROFILE=${PROFILE:-debug}')"

  # The gateway serves the built web client: the env file records where,
  # so a service started again later (make run, or this script directly)
  # reads it from there like every other setting.
  if [[ -f "$ROOT/web/dist/index.html" ]] && ! grep -q '^WEB_ROOT=' "$ENV_FILE"; then
    printf 'WEB_ROOT=%s\n' "$ROOT/web/dist" >>"$ENV_FILE"
  fi

  local started=() port instance id
  while read -r name instance; do
    id="$(instance_id "$name" "$instance")"
    if pid_alive "$RUN_DIR/$id.pid" "$name"; then
      log "[$id] already running (pid $(<"$RUN_DIR/$id.pid"))"
      continue
    fi
    log "[$id] starting; log $(rel "$LOG_DIR/$id.log")"
    # Load the env file in a subshell so each service sees exactly stack.env.
    (
      set -a
      # shellcheck source=/dev/null
      . "$ENV_FILE"
      set +a
      # Pin each service to the port the URL table below promises (the
      # services read their HTTP port from PORT).
      # Instance N of a worker answers health on its port + 100 × (N - 1).
      port="$(service_port "$name")"
      [[ -z "$port" ]] || export PORT="$((port + 100 * (instance - 1)))"
      export WORKER_ID="$id"
      cd "$ROOT"
      RUST_LOG="${RUST_LOG:-info}" start_daemon "$id" "$RUN_DIR/$id.pid" "$LOG_DIR/$id.log" "$target/$name"
    )
    started+=("$name $id $instance")
  done < <(service_instances)

  # A service connects to its dependencies before it listens, and exits
  # when one does not answer: so each is awaited until its port opens (it is
  # up) or it exits (it is not). One that takes longer is reported below as
  # not listening yet.
  local entry deadline=$((SECONDS + 30))
  for entry in "${started[@]}"; do
    read -r name id instance <<<"$entry"
    port="$(service_port "$name")"
    [[ -z "$port" ]] || port="$((port + 100 * (instance - 1)))"
    while pid_alive "$RUN_DIR/$id.pid" "$name"; do
      if [[ -z "$port" ]]; then
        sleep 0.5
        break
      fi
      port_open "$port" && break
      ((SECONDS < deadline)) || break
      sleep 0.1
    done
    pid_alive "$RUN_DIR/$id.pid" "$name" ||
      die "$id" "exited while starting" "$LOG_DIR/$id.log"
  done

  printf '\n%-18s %-26s %s\n' SERVICE URL STATE
  local state
  while read -r name instance; do
    id="$(instance_id "$name" "$instance")"
    port="$(service_port "$name")"
    [[ -z "$port" ]] || port="$((port + 100 * (instance - 1)))"
    state="running, port not open yet"
    [[ -n "$port" ]] && port_open "$port" && state="listening"
    [[ -n "$port" ]] || state="running"
    printf '%-18s %-26s %s\n' "$id" "${port:+http://127.0.0.1:$port}" "$state"
  done < <(service_instances)
}

cmd_services_down() {
  make_dirs
  local name id
  while read -r name id; do
    stop_pid "$id" "$RUN_DIR/$id.pid" "$name"
  done < <(running_instances)
}

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  case "${1:-}" in
    up) cmd_up "${2:-}" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    clean) cmd_clean ;;
    services-up) cmd_services_up ;;
    services-down) cmd_services_down ;;
    env) printf '%s\n' "$ENV_FILE" ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
