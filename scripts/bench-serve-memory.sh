#!/usr/bin/env bash
# Memory of a long-running `demail-testbed serve`: how much resident memory (VmRSS of
# /proc/PID/status) each accepted message and each refused command leaves behind. A provider
# that runs for months must run in bounded memory, so both figures should be about 0.
# docs/serve.md ("Memory") has the figures. Not a timed test; CI does not run it. About a
# minute on 2 vCPUs with the defaults (plus the release build when it is not up to date).
#
#   scripts/bench-serve-memory.sh
#   TESTBED=/path/to/older/demail-testbed scripts/bench-serve-memory.sh   # before/after
#
# What it does:
#   1. builds the release binary (cargo build --release), unless TESTBED names one;
#   2. starts `serve` with a generated configuration (docs/serve.md): one provider with the
#      trusted submission listener (plain SMTP on loopback, MAIL FROM names the account), an
#      institution account at level high sending to an institution account pushed nowhere,
#      data in a fresh folder under $CARGO_TARGET_DIR/bench-serve-memory/ (removed at the end);
#   3. accepted messages: a python3 client sends WARMUP_MESSAGES messages over SESSIONS
#      parallel sessions of the trusted listener (MAIL, RCPT, DATA pipelined), reads VmRSS
#      (the baseline), sends up to MESSAGES in all, reads VmRSS again; any reply but the
#      expected one stops it with an error; the gateway API must then list exactly MESSAGES
#      messages in the recipient's mailbox;
#   4. refused commands: one plain session on the normal submission port (no STARTTLS, no
#      AUTH) sends `MAIL FROM:<x@y>` pipelined in batches of BATCH, each answered
#      `530 5.7.0 Authentication required`; VmRSS after WARMUP_REFUSED (the baseline) and after
#      REFUSED in all;
#   5. prints VmRSS at each point and the growth per message and per refused command:
#      (RSS at the end - RSS at the baseline) / (count at the end - count at the baseline).
#
# Settings (environment):
#   MESSAGES=60000         messages in all          WARMUP_MESSAGES=20000  before the baseline
#   REFUSED=200000         refused MAIL in all      WARMUP_REFUSED=20000   before the baseline
#   SESSIONS=4             parallel sessions for the messages
#   BATCH=1000             MAIL commands per pipelined batch
#   LENGTH=1024            approximate message length in bytes
#   NO_MESSAGES=1          run serve with --no-messages (no .eml copy per message; 0: keep them)
#   BASE_PORT=25350        first of four loopback ports (trusted, submission, HTTP, relay)
#   TESTBED=               a demail-testbed binary to measure instead of building this tree
#                          (e.g. one built from an older commit, for a before/after)
#   KEEP=0                 1: keep the data folder (trace.jsonl, store) for inspection
# VmRSS moves in pages and with the allocator's arenas: differences of a few hundred KiB are
# noise; the figures mean something when the growth over the measured span is megabytes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-serve-config.sh
source "$ROOT/scripts/bench-serve-config.sh"
MESSAGES=${MESSAGES:-60000}
WARMUP_MESSAGES=${WARMUP_MESSAGES:-20000}
REFUSED=${REFUSED:-200000}
WARMUP_REFUSED=${WARMUP_REFUSED:-20000}
SESSIONS=${SESSIONS:-4}
BATCH=${BATCH:-1000}
LENGTH=${LENGTH:-1024}
NO_MESSAGES=${NO_MESSAGES:-1}
BASE_PORT=${BASE_PORT:-25350}
KEEP=${KEEP:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$TARGET_DIR/bench-serve-memory/run.$$
SENDER=poststelle@bench.de-mail.de
RCPT=eingang@bench.de-mail.de
RCPT_TOKEN=token-bench-eingang
PID=

die() {
  echo "bench-serve-memory: $*" >&2
  exit 1
}

cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [[ $KEEP == 1 ]]; then
    echo "data kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

(( WARMUP_MESSAGES < MESSAGES && WARMUP_REFUSED < REFUSED )) ||
  die "the warm-up counts must be below MESSAGES and REFUSED"
command -v python3 >/dev/null || die "python3 is needed for the client"

# --- 1. the binary ------------------------------------------------------------------------------
if [[ -z ${TESTBED:-} ]]; then
  echo "== cargo build --release (target $TARGET_DIR)" >&2
  (cd "$ROOT" && cargo build --release -p demail-harness --bin demail-testbed >&2)
  TESTBED=$TARGET_DIR/release/demail-testbed
fi
[[ -x $TESTBED ]] || die "no binary at $TESTBED"

# --- 2. serve -----------------------------------------------------------------------------------
mkdir -p "$WORK"
TRUSTED=$BASE_PORT SMTP=$((BASE_PORT + 1)) HTTP=$((BASE_PORT + 2))
bench_serve_config "$TRUSTED" "$SENDER" "$RCPT" "$RCPT_TOKEN" >"$WORK/serve.toml"
EXTRA=()
[[ $NO_MESSAGES == 1 ]] && EXTRA+=(--no-messages)
"$TESTBED" serve --config "$WORK/serve.toml" --data "$WORK/data" "${EXTRA[@]}" >"$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
  grep -q '^ready' "$WORK/serve.log" && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; die "serve exited"; }
  sleep 0.1
done
grep -q '^ready' "$WORK/serve.log" || die "serve did not become ready"

# --- 3.–5. the client ---------------------------------------------------------------------------
cat >"$WORK/client.py" <<'PY'
"""Drives serve and reads its VmRSS; see the header of scripts/bench-serve-memory.sh."""
import http.client
import socket
import sys
import threading
import time

(pid, trusted, smtp, http_port, messages, warm_messages, refused, warm_refused,
 sessions, batch, length) = map(int, sys.argv[1:12])
sender, rcpt, token = sys.argv[12:15]


def rss():
    """VmRSS of serve in bytes, after a moment for the last replies' work to settle; the parts
    (anonymous memory, mapped files, shared memory such as SQLite's WAL index) go to a note."""
    time.sleep(0.5)
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                fields[name] = int(value.split()[0]) * 1024
    if "VmRSS" not in fields:
        raise SystemExit("no VmRSS")
    global parts
    parts = "  (" + ", ".join(f"{n[3:]} {fields.get(n, 0) // 1024:,}" for n in ("RssAnon", "RssFile", "RssShmem")) + " KiB)"
    return fields["VmRSS"]


parts = ""


class Session:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.expect("220")
        self.send(b"EHLO bench.example\r\n")
        self.expect("250")

    def send(self, data):
        self.sock.sendall(data)

    def expect(self, code):
        while True:
            line = self.file.readline()
            if not line:
                raise SystemExit(f"connection closed, expected {code}")
            if len(line) < 4 or line[3:4] == b" ":
                break
        text = line.decode("utf-8", "replace").rstrip()
        if not text.startswith(code):
            raise SystemExit(f"expected {code}, got {text!r}")
        return text


counter = iter(range(1, 10**9))
counter_lock = threading.Lock()


def message():
    with counter_lock:
        n = next(counter)
    head = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: Speicher-Benchmark {n}\r\n"
            f"Date: Mon, 3 Mar 2025 09:00:00 +0100\r\nMessage-ID: <bench-{n}@bench.example>\r\n\r\n")
    line = "Sehr geehrte Damen und Herren, dies ist eine Benchmark-Nachricht.\r\n"
    body = line * max(1, (length - len(head)) // len(line))
    return (head + body + ".\r\n").encode()


def send_messages(count):
    """Sends `count` messages over `sessions` parallel sessions of the trusted listener."""
    errors = []

    def worker(n):
        try:
            s = Session(trusted)
            for _ in range(n):
                s.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
                s.expect("250")
                s.expect("250")
                s.expect("354")
                s.send(message())
                s.expect("250")
            s.send(b"QUIT\r\n")
            s.expect("221")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    share = [count // sessions + (1 if i < count % sessions else 0) for i in range(sessions)]
    threads = [threading.Thread(target=worker, args=(n,)) for n in share if n]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"message client: {errors[0]}")


def stored_count():
    """The cursor of the last message in the recipient's mailbox (rows are numbered 1, 2, ...)."""
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    conn.request("GET", f"/api/v1/messages?since={messages - 1}&limit=5",
                 headers={"Authorization": f"Bearer {token}"})
    body = conn.getresponse().read().decode()
    return f'"cursor":"{messages}"' in body and f'"cursor":"{messages + 1}"' not in body


def kib(b):
    return f"{b / 1024:>10,.0f} KiB"


start = rss()
print(f"start                                 VmRSS {kib(start)}{parts}")
t0 = time.time()
send_messages(warm_messages)
base_m = rss()
print(f"after {warm_messages:>9,} messages (baseline)     VmRSS {kib(base_m)}{parts}")
send_messages(messages - warm_messages)
end_m = rss()
took = time.time() - t0
print(f"after {messages:>9,} messages                VmRSS {kib(end_m)}{parts}  {messages / took:,.0f} msg/s")
if not stored_count():
    raise SystemExit(f"the recipient's mailbox does not hold exactly {messages} messages")

s = Session(smtp)
sent = 0
base_r = end_r = None
t0 = time.time()
while sent < refused:
    k = min(batch, refused - sent, (warm_refused - sent) if sent < warm_refused else refused)
    s.send(b"MAIL FROM:<x@y>\r\n" * k)
    for _ in range(k):
        s.expect("530 5.7.0")
    sent += k
    if sent == warm_refused:
        base_r = rss()
        print(f"after {sent:>9,} refused MAIL (baseline) VmRSS {kib(base_r)}{parts}")
end_r = rss()
took = time.time() - t0
print(f"after {sent:>9,} refused MAIL            VmRSS {kib(end_r)}{parts}  {sent / took:,.0f} commands/s")
s.send(b"QUIT\r\n")
s.expect("221")

print()
print(f"per accepted message:   {(end_m - base_m) / (messages - warm_messages):>8,.0f} bytes"
      f"   (VmRSS growth {(end_m - base_m) / 1024:,.0f} KiB over {messages - warm_messages:,} messages"
      f" after a warm-up of {warm_messages:,})")
print(f"per refused command:    {(end_r - base_r) / (refused - warm_refused):>8,.0f} bytes"
      f"   (VmRSS growth {(end_r - base_r) / 1024:,.0f} KiB over {refused - warm_refused:,} commands"
      f" after a warm-up of {warm_refused:,})")
PY

echo "== $TESTBED serve ${EXTRA[*]:-} · pid $PID · $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$WORK/client.py" "$PID" "$TRUSTED" "$SMTP" "$HTTP" "$MESSAGES" "$WARMUP_MESSAGES" \
  "$REFUSED" "$WARMUP_REFUSED" "$SESSIONS" "$BATCH" "$LENGTH" "$SENDER" "$RCPT" "$RCPT_TOKEN"
if [[ -f $WORK/data/trace.jsonl ]]; then
  echo "trace file: $(wc -l <"$WORK/data/trace.jsonl") events, $(du -h "$WORK/data/trace.jsonl" | cut -f1)"
fi
