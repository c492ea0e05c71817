#!/usr/bin/env bash
# Benchmark of `demail-testbed population` (docs/population.md, "Performance").
#
# Builds the release binary, then writes 1,000,000 citizens as CSV to /tmp/pop.csv and, as the
# baseline in the same invocation, 100,000 citizens to /tmp/pop-baseline.csv, each under
# `/usr/bin/time -v`. Prints wall time, peak memory (max RSS) and the ratio of the large run to
# the baseline; exits 1 if the targets (under 5 s and under 500 MB for 1,000,000) are missed.
#
# Overrides: SIZE (default 1000000), BASE (default 100000), SEED (default 1), OUT (default
# /tmp/pop.csv), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE="${SIZE:-1000000}"
BASE="${BASE:-100000}"
SEED="${SEED:-1}"
OUT="${OUT:-/tmp/pop.csv}"
BASE_OUT="${OUT%.csv}-baseline.csv"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
MAX_WALL_S=5
MAX_RSS_MB=500

if [ ! -x /usr/bin/time ]; then
  echo "bench: /usr/bin/time is missing; installing the Debian package 'time'" >&2
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi

cargo build --release --locked -p demail-harness --bin demail-testbed
BIN="$TARGET_DIR/release/demail-testbed"
if ! "$BIN" population --help >/dev/null 2>&1; then
  echo "bench: $BIN has no 'population' command (is cmd/population.rs wired into cli.rs?)" >&2
  exit 2
fi

LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

# measure SIZE FILE: runs the command once; sets WALL (seconds) and RSS (MB).
measure() {
  /usr/bin/time -v "$BIN" population --size "$1" --seed "$SEED" --format csv --out "$2" 2>"$LOG" || {
    cat "$LOG" >&2
    echo "bench: population --size $1 failed" >&2
    exit 2
  }
  # "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23"
  WALL="$(awk -F': ' '/Elapsed \(wall clock\)/ {
      n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$LOG")"
  RSS="$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$LOG")"
  ROWS="$(($(wc -l <"$2") - 1))"
  printf '%9s citizens: wall %6.2f s, max RSS %7.1f MB, %s rows, %s bytes -> %s\n' \
    "$1" "$WALL" "$RSS" "$ROWS" "$(wc -c <"$2")" "$2"
}

echo "bench: $BIN population --size N --seed $SEED --format csv --out FILE"
measure "$BASE" "$BASE_OUT"
BASE_WALL="$WALL" BASE_RSS="$RSS"
measure "$SIZE" "$OUT"

awk -v w="$WALL" -v r="$RSS" -v bw="$BASE_WALL" -v br="$BASE_RSS" -v n="$SIZE" -v b="$BASE" \
  -v mw="$MAX_WALL_S" -v mr="$MAX_RSS_MB" 'BEGIN {
    printf "ratio %s/%s: wall x%.2f, max RSS x%.2f (size x%.0f)\n", n, b,
      (bw > 0 ? w / bw : 0), (br > 0 ? r / br : 0), n / b
    ok = (w < mw && r < mr)
    printf "target for %s: < %s s and < %s MB: %s\n", n, mw, mr, ok ? "met" : "MISSED"
    exit ok ? 0 : 1
  }'
