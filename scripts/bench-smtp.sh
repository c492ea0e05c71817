#!/usr/bin/env bash
# SMTP ingest rate of the provider's submission path with the durable store, side by side with
# Postfix's smtp-sink under the same smtp-source load (issue #5; goal: at least half of
# smtp-sink's rate). Both tools come from Debian's postfix package, unpacked into a private
# folder (nothing is installed as a service, no postinst runs). CI does not run this script.
#
#   scripts/bench-smtp.sh
#
# What it does:
#   1. builds the release binary (cargo build --release) and the load driver example;
#   2. fetches postfix_*.deb with `apt-get download` (cached in target/bench-smtp/) and unpacks
#      it with dpkg-deb -x; missing shared libraries are installed with apt-get (root only);
#   3. starts smtp-sink, and `demail-testbed serve` with a generated configuration whose
#      provider opens the trusted submission listener (plain SMTP, loopback, docs/serve.md);
#      an institution account at level high sends to an institution account pushed nowhere;
#      with NO_MESSAGES=1 (default) a second serve with --no-messages (no .eml copy per
#      message) runs beside it;
#   4. runs the SAME smtp-source command line against each (after a warm-up run), ROUNDS times
#      in turn so that other load on the machine hits all alike, each timed with
#      date +%s.%N; smtp-source stops with an error at the first refusal, and the script checks
#      through the gateway API that each store holds every message;
#   5. with FULL_PATH=1 (default) measures the full STARTTLS + AUTH PLAIN path on the normal
#      submission face with harness/examples/smtp_load.rs;
#   6. prints messages per second for each (median of the rounds) and the ratio ours / sink,
#      and the serve process's CPU time (user + system, /proc/PID/stat) per message in the
#      rounds: a figure that other load on the machine moves far less than the rates.
#
# Settings (environment):
#   MESSAGES=20000  messages per measured run        SESSIONS=20  parallel sessions (-s)
#   LENGTH=4096     message length in bytes (-l)      WARMUP=500   messages of the warm-up run
#   ROUNDS=3        measured runs against each target, in turn
#   BASE_PORT=25250 first of nine loopback ports      FULL_PATH=1  also measure STARTTLS+AUTH
#   NO_MESSAGES=1   also measure serve --no-messages
#   PER_SESSION=1   messages per session of the STARTTLS+AUTH driver (1 = like smtp-source)
#   POSTFIX_DEB=    a postfix .deb to use instead of downloading one
#   TESTBED=, LOADER=  other demail-testbed and smtp_load binaries to measure (e.g. a copy built
#                   from an older commit, for a before/after on the same machine state); the
#                   build of step 1 still runs. The build goes to $CARGO_TARGET_DIR (default
#                   target/), and so does the postfix cache (bench-smtp/).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-serve-config.sh
source "$ROOT/scripts/bench-serve-config.sh"
MESSAGES=${MESSAGES:-20000}
SESSIONS=${SESSIONS:-20}
LENGTH=${LENGTH:-4096}
WARMUP=${WARMUP:-500}
ROUNDS=${ROUNDS:-3}
BASE_PORT=${BASE_PORT:-25250}
FULL_PATH=${FULL_PATH:-1}
NO_MESSAGES=${NO_MESSAGES:-1}
PER_SESSION=${PER_SESSION:-1}
SINK_PORT=$BASE_PORT
SENDER=poststelle@bench.de-mail.de
RCPT=eingang@bench.de-mail.de
RCPT_TOKEN=token-bench-eingang
SUBJECT="Benchmark"

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CACHE=$TARGET_DIR/bench-smtp
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-smtp.XXXXXX")
PIDS=()
DATA_DIRS=()

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK" "${DATA_DIRS[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "bench-smtp: $*" >&2
  exit 1
}

# --- 1. build ---------------------------------------------------------------------------------
echo "== building (release)"
(cd "$ROOT" && cargo build --release --locked -q && cargo build --release --locked -q -p demail-harness --example smtp_load)
TESTBED=${TESTBED:-$TARGET_DIR/release/demail-testbed}
LOADER=${LOADER:-$TARGET_DIR/release/examples/smtp_load}

# --- 2. Postfix's smtp-sink and smtp-source ----------------------------------------------------
PF=$CACHE/postfix
if [[ ! -x $PF/usr/sbin/smtp-source ]]; then
  mkdir -p "$CACHE"
  deb=${POSTFIX_DEB:-}
  if [[ -z $deb ]]; then
    command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian system (or POSTFIX_DEB=<path to postfix .deb>)"
    echo "== fetching Debian's postfix package (apt-get download postfix)"
    if ! (cd "$CACHE" && apt-get download postfix >/dev/null 2>&1); then
      [[ $(id -u) -eq 0 ]] || die "apt-get download postfix failed; run 'apt-get update' as root, or set POSTFIX_DEB"
      apt-get update -qq
      (cd "$CACHE" && apt-get download postfix) || die "apt-get download postfix failed"
    fi
    deb=$(ls -t "$CACHE"/postfix_*.deb | head -n 1)
  fi
  rm -rf "$PF"
  mkdir -p "$PF"
  dpkg-deb -x "$deb" "$PF"
  dpkg-deb -f "$deb" Version >"$PF/VERSION"
  cp "$deb" "$PF/postfix.deb" 2>/dev/null || true
fi
export LD_LIBRARY_PATH=$PF/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
missing=$(ldd "$PF/usr/sbin/smtp-sink" "$PF/usr/sbin/smtp-source" | awk '/not found/ {print $1}' | sort -u)
if [[ -n $missing ]]; then
  echo "== shared libraries missing: $(echo $missing)"
  [[ $(id -u) -eq 0 ]] || die "install the library packages postfix depends on (as root), then rerun"
  # The library packages among postfix's dependencies; only libraries, no services.
  libs=$(dpkg-deb -f "$PF/postfix.deb" Depends | tr ',' '\n' | sed 's/([^)]*)//; s/|.*//; s/ //g' | grep '^lib' || true)
  apt-get install -y -qq --no-install-recommends $libs >/dev/null
  missing=$(ldd "$PF/usr/sbin/smtp-sink" "$PF/usr/sbin/smtp-source" | awk '/not found/ {print $1}' | sort -u)
  [[ -z $missing ]] || die "still missing: $missing"
fi
SINK=$PF/usr/sbin/smtp-sink
SOURCE=$PF/usr/sbin/smtp-source
PF_VERSION=$(cat "$PF/VERSION" 2>/dev/null || echo "?")

# The one load command line, for every target.
source_cmd() { # $1 = messages, $2 = port
  "$SOURCE" -s "$SESSIONS" -m "$1" -l "$LENGTH" -S "$SUBJECT" -f "$SENDER" -t "$RCPT" "127.0.0.1:$2"
}

# Waits until a TCP port accepts connections.
wait_port() { # $1 = port, $2 = name, $3 = pid
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
      return 0
    fi
    kill -0 "$3" 2>/dev/null || die "$2 exited before listening on port $1"
    sleep 0.1
  done
  die "$2 does not listen on port $1"
}

# Runs one measured load; prints the rate in messages per second.
timed() { # $1 = name, then the command
  local name=$1 start end
  shift
  start=$(date +%s.%N)
  if ! "$@" >"$WORK/run.out" 2>&1; then
    cat "$WORK/run.out" >&2
    die "$name: the load generator failed (a refusal or an error, above)"
  fi
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v n="$MESSAGES" -v name="$name" \
    'BEGIN { t = e - s; printf "%s: %d messages in %.2f s\n", name, n, t > "/dev/stderr"; printf "%.0f\n", n / t }'
}

# One HTTP GET on a provider's gateway API; prints the body.
http_get() { # $1 = port, $2 = path
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "$2" "$RCPT_TOKEN" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}

# The recipient's mailbox must hold exactly $2 messages: each accepted message is one row, the
# rows are numbered 1, 2, … (SQLite rowid, the gateway's cursor), and nothing else is stored.
check_stored() { # $1 = HTTP port, $2 = expected count
  local last
  last=$(http_get "$1" "/api/v1/messages?since=$(($2 - 1))&limit=5")
  [[ $last == *"\"cursor\":\"$2\""* && $last != *"\"cursor\":\"$(($2 + 1))\""* ]] ||
    die "the store does not hold exactly $2 messages: $last"
  http_get "$1" "/api/v1/messages?limit=1" | grep -q '"cursor":"1"' || die "the first message is not at position 1"
  echo "store check (port $1): $2 messages in the recipient's mailbox, none refused" >&2
}

# Starts `demail-testbed serve` with the bench configuration. Ports: trusted listener $2,
# submission $2+1, HTTP $2+2, relay $2+3. Data on the disk next to the build (not tmpfs).
declare -A SERVE_PIDS=()
# CPU time (user + system) of a process so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# µs of CPU per message between two cpu_ticks readings.
cpu_per_message() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" -v n="$MESSAGES" 'BEGIN { printf "%.0f", (b - a) / hz / n * 1e6 }'; }

start_serve() { # $1 = label, $2 = first port, then extra serve arguments
  local label=$1 port=$2 pid data
  shift 2
  data=$CACHE/data-$label.$$
  rm -rf "$data"
  DATA_DIRS+=("$data")
  bench_serve_config "$port" "$SENDER" "$RCPT" "$RCPT_TOKEN" >"$WORK/$label.toml"
  "$TESTBED" serve --config "$WORK/$label.toml" --data "$data" "$@" >"$WORK/$label.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  SERVE_PIDS[$label]=$pid
  for _ in $(seq 1 300); do
    grep -q '^ready' "$WORK/$label.log" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$label.log" >&2; die "serve ($label) exited"; }
    sleep 0.1
  done
  die "serve ($label) did not become ready"
}

echo "== machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr); postfix $PF_VERSION"
echo "== load: smtp-source -s $SESSIONS -m $MESSAGES -l $LENGTH -S $SUBJECT -f $SENDER -t $RCPT 127.0.0.1:<port>"

# --- 3. the servers ----------------------------------------------------------------------------
sink_args=()
[[ $(id -u) -eq 0 ]] && sink_args=(-u nobody)
"$SINK" "${sink_args[@]}" "127.0.0.1:$SINK_PORT" 1024 >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_port "$SINK_PORT" smtp-sink "$SINK_PID"
OURS=$((BASE_PORT + 1))
BARE=$((BASE_PORT + 5))
start_serve default "$OURS"
[[ $NO_MESSAGES == 1 ]] && start_serve no-messages "$BARE" --no-messages

# --- 4. the same load against each, in turn ------------------------------------------------------
source_cmd "$WARMUP" "$SINK_PORT" >/dev/null || die "warm-up against smtp-sink failed"
source_cmd "$WARMUP" "$OURS" >/dev/null || die "warm-up against the provider failed"
[[ $NO_MESSAGES == 1 ]] && { source_cmd "$WARMUP" "$BARE" >/dev/null || die "warm-up against the provider (--no-messages) failed"; }
SINK_RATES=()
OUR_RATES=()
BARE_RATES=()
OUR_CPU=()
BARE_CPU=()
for round in $(seq 1 "$ROUNDS"); do
  SINK_RATES+=("$(timed "smtp-sink, round $round" source_cmd "$MESSAGES" "$SINK_PORT")")
  c0=$(cpu_ticks "${SERVE_PIDS[default]}")
  OUR_RATES+=("$(timed "demail trusted listener, round $round" source_cmd "$MESSAGES" "$OURS")")
  OUR_CPU+=("$(cpu_per_message "$c0" "$(cpu_ticks "${SERVE_PIDS[default]}")")")
  if [[ $NO_MESSAGES == 1 ]]; then
    c0=$(cpu_ticks "${SERVE_PIDS[no-messages]}")
    BARE_RATES+=("$(timed "demail trusted listener --no-messages, round $round" source_cmd "$MESSAGES" "$BARE")")
    BARE_CPU+=("$(cpu_per_message "$c0" "$(cpu_ticks "${SERVE_PIDS[no-messages]}")")")
  fi
done
check_stored $((OURS + 2)) $((WARMUP + ROUNDS * MESSAGES))
[[ $NO_MESSAGES == 1 ]] && check_stored $((BARE + 2)) $((WARMUP + ROUNDS * MESSAGES))

FULL_RATE=
if [[ $FULL_PATH == 1 ]]; then
  FULL_RATE=$(timed "demail STARTTLS+AUTH" "$LOADER" --addr "127.0.0.1:$((OURS + 1))" \
    --ca "$CACHE/data-default.$$/pki/ca.pem" --user "$SENDER" --password bench --to "$RCPT" \
    --messages "$MESSAGES" --sessions "$SESSIONS" --length "$LENGTH" --per-session "$PER_SESSION" \
    --subject "$SUBJECT")
  check_stored $((OURS + 2)) $((WARMUP + (ROUNDS + 1) * MESSAGES))
fi

# --- 5. report -----------------------------------------------------------------------------------
median() {
  printf '%s\n' "$@" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v o="$1" -v s="$2" 'BEGIN { printf "%.2f", o / s }'; }
SINK_RATE=$(median "${SINK_RATES[@]}")
OUR_RATE=$(median "${OUR_RATES[@]}")
echo
echo "rounds (msg/s): smtp-sink ${SINK_RATES[*]}; demail ${OUR_RATES[*]}${BARE_RATES[*]:+; demail --no-messages ${BARE_RATES[*]}}"
echo "rounds (serve CPU µs per message): demail ${OUR_CPU[*]}${BARE_CPU[*]:+; demail --no-messages ${BARE_CPU[*]}}"
printf '%-58s %6s msg/s\n' "smtp-sink (postfix $PF_VERSION), stores nothing:" "$SINK_RATE"
printf '%-58s %6s msg/s  ratio %s  (%s µs CPU per message)\n' "demail serve, trusted listener, durable store:" "$OUR_RATE" "$(ratio "$OUR_RATE" "$SINK_RATE")" "$(median "${OUR_CPU[@]}")"
if [[ $NO_MESSAGES == 1 ]]; then
  BARE_RATE=$(median "${BARE_RATES[@]}")
  printf '%-58s %6s msg/s  ratio %s  (%s µs CPU per message)\n' "demail serve --no-messages (no .eml copy), durable store:" "$BARE_RATE" "$(ratio "$BARE_RATE" "$SINK_RATE")" "$(median "${BARE_CPU[@]}")"
fi
if [[ -n $FULL_RATE ]]; then
  printf '%-58s %6s msg/s  (one run)\n' "demail serve, STARTTLS + AUTH, $PER_SESSION msg/session:" "$FULL_RATE"
fi
awk -v o="$OUR_RATE" -v s="$SINK_RATE" 'BEGIN {
  r = o / s
  printf "goal: ours / smtp-sink at least 0.50 with the default serve: %.2f %s\n", r, (r >= 0.5 ? "OK" : "BELOW GOAL")
}'
