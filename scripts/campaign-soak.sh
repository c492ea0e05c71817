#!/usr/bin/env bash
# The soak campaign (docs/reliability.md, issue #18): `demail-testbed load loads/soak.toml`
# (a constant rate against the embedded world: provider, reference intake and generator in
# one process) while this script samples the process every 10 s: resident memory (VmRSS),
# open file descriptors and threads. After a warm-up (the first fifth of the run, at least
# 120 s: bounded caches such as the SQLite page caches of the provider's store and of the
# intake's case archive fill in the first two minutes) memory must stay within 10 % of its
# value at the end of the warm-up, and descriptors and threads must not grow. Prints the
# samples and the verdict; exits 1 below the goals.
#
#   scripts/campaign-soak.sh                      # five minutes at 40/s (loads/soak.toml)
#   SECONDS_TOTAL=3600 scripts/campaign-soak.sh   # the hour of the issue
set -euo pipefail
cd "$(dirname "$0")/.."
total="${SECONDS_TOTAL:-300}"
cargo build --locked -q -p demail-harness --bin demail-testbed
profile=$(mktemp --suffix=.toml)
out=$(mktemp -d)
trap 'rm -rf "$profile" "$out"' EXIT
sed "s/^duration = \"300s\"/duration = \"${total}s\"/" loads/soak.toml > "$profile"
./target/debug/demail-testbed load "$profile" --out "$out" > "$out/load.log" 2>&1 &
pid=$!
samples=()
warm=$(( total / 5 ))
[ "$warm" -ge 120 ] || warm=120
t=0
while kill -0 "$pid" 2>/dev/null; do
  if [ -r "/proc/$pid/status" ]; then
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    thr=$(awk '/Threads/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    [ -n "$rss" ] && [ "$t" -le "$total" ] && samples+=("$t $rss $fds $thr")
  fi
  sleep 10
  t=$(( t + 10 ))
done
wait "$pid" && code=0 || code=$?
echo "soak: ${total} s at a constant rate (loads/soak.toml), load exited $code"
printf '  %6s %10s %5s %7s\n' "t [s]" "RSS [kB]" "fds" "threads"
for s in "${samples[@]}"; do printf '  %6s %10s %5s %7s\n' $s; done
base=""; last=""
for s in "${samples[@]}"; do
  set -- $s
  if [ -z "$base" ] && [ "$1" -ge "$warm" ]; then base="$s"; fi
  last="$s"
done
[ -n "$base" ] || { echo "soak: too short to judge" >&2; exit 2; }
set -- $base; b_rss=$2; b_fds=$3; b_thr=$4
set -- $last; e_rss=$2; e_fds=$3; e_thr=$4
growth=$(( (e_rss - b_rss) * 100 / b_rss ))
echo "after warm-up (t=${warm} s): RSS ${b_rss} kB -> ${e_rss} kB (${growth} %), fds ${b_fds} -> ${e_fds}, threads ${b_thr} -> ${e_thr}"
ok=1
[ "$growth" -le 10 ] || { echo "FAIL: RSS grew by ${growth} % (goal: within 10 %)"; ok=0; }
[ "$e_fds" -le $(( b_fds + 5 )) ] || { echo "FAIL: descriptors grew"; ok=0; }
[ "$e_thr" -le $(( b_thr + 2 )) ] || { echo "FAIL: threads grew"; ok=0; }
[ "$code" -eq 0 ] || { echo "FAIL: load exited $code (thresholds: $out/report.json)"; tail -20 "$out/load.log"; ok=0; }
[ "$ok" -eq 1 ] && echo "PASS" || exit 1
