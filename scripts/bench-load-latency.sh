#!/usr/bin/env bash
# The latency goal of issue #17 (docs/load.md, "Latency at half of saturation"): p99 from a
# submission's intended time to its Eingangsbestätigung in the sender's mailbox at most 20 ms
# at half of the saturation rate, measured by `demail-testbed load` itself against the
# embedded world (release build; generator, provider and intake in one process).
#
#   scripts/bench-load-latency.sh
#
# 1. A ramp from 10 to 800 arrivals/s over 40 s (loads/soak.toml's mix, 400 sessions at most).
#    Two saturation points are read from report.json's 2-s intervals: the submission path's
#    (the highest achieved rate before the first dropped arrival) and the push path's (the
#    highest rate whose replies still came within 0.5 s on average).
# 2. A constant load at half of each for 60 s; its p99 "receipt" is compared with the goal.
#
# Settings (environment): GOAL_MS=20, HOLD=60s. Exits 1 if a p99 is above the goal.
set -euo pipefail
cd "$(dirname "$0")/.."
GOAL_MS=${GOAL_MS:-20}
HOLD=${HOLD:-60s}
cargo build --release --locked -q -p demail-harness --bin demail-testbed
bin=target/release/demail-testbed
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

profile() { # name shape-lines duration
  sed -e "s/^name = \"soak\"/name = \"$1\"/" -e "s/^duration = \"300s\"/duration = \"$3\"/" \
      -e 's/^interval = "10s"/interval = "2s"/' -e 's/^max_in_flight = 200/max_in_flight = 400/' \
      loads/soak.toml | python3 -c "
import re, sys
s = sys.stdin.read()
s = re.sub(r'\[rate\]\nshape = \"constant\"\nper_second = 40[^\n]*', '''$2''', s)
sys.stdout.write(s)"
}

profile ramp '[rate]
shape = "ramp"
start = 10
stages = [{ duration = "40s", target = 800 }]' 40s > "$work/ramp.toml"
"$bin" load "$work/ramp.toml" --out "$work/ramp" > "$work/ramp.log" 2>&1 || true
read -r submit_sat push_sat < <(python3 - "$work/ramp/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
step = r["interval_s"]
submit = push = 0.0
for iv in r["intervals"]:
    if iv["dropped"] > 0:
        break
    rate = iv["started"] / step
    submit = max(submit, rate)
    if iv["replies"] and iv["reply_sum_us"] / iv["replies"] <= 500_000:
        push = max(push, rate)
print(f"{submit:.0f} {push:.0f}")
EOF
)
echo "saturation (ramp 10 → 800/s): submission path ${submit_sat}/s, push path ${push_sat}/s"

fail=0
for sat in "$push_sat" "$submit_sat"; do
  half=$(( sat / 2 ))
  profile "halb-$half" "[rate]
shape = \"constant\"
per_second = $half" "$HOLD" > "$work/half.toml"
  rm -rf "$work/half"
  "$bin" load "$work/half.toml" --out "$work/half" > "$work/half.log" 2>&1 || true
  read -r p99 p95 rate dropped < <(python3 - "$work/half/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
l = r["latencies"]["receipt"]
print(f'{l["p99_s"]*1000:.1f} {l["p95_s"]*1000:.1f} {r["rates"].get("achieved_per_s", 0):.1f} {r["counts"].get("dropped", 0)}')
EOF
)
  verdict=ok
  python3 -c "import sys; sys.exit(0 if $p99 <= $GOAL_MS else 1)" || { verdict="ABOVE THE GOAL"; fail=1; }
  echo "half of ${sat}/s = ${half}/s for $HOLD: achieved ${rate}/s, dropped ${dropped}; receipt p95 ${p95} ms, p99 ${p99} ms (goal ≤ ${GOAL_MS} ms): $verdict"
done
exit "$fail"
