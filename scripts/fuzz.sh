#!/usr/bin/env bash
# Time-boxed fuzzing on the stable toolchain (docs/reliability.md, issue #18): the shared
# readers of sim/tests/fuzz_wire.rs (header reader, seal verification, inspect, address and
# Received syntax; proptest), the provider's SMTP and POP3 session loops of
# sim/tests/fuzz_sessions.rs (generated sessions over loopback: submission, relay and POP3
# faces; proptest) and the file readers of harness/tests/fuzz_files.rs (scenario, target and
# catalogue files under seeded mutations), round after round with a new seed until the time is
# up. Stops at the first failure and prints the seed that replays it.
#
#   scripts/fuzz.sh                 # 5 minutes
#   SECONDS_BUDGET=3600 scripts/fuzz.sh
#
# CI runs one short round of each as part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${SECONDS_BUDGET:-300}"
cargo test --locked --no-run --workspace --test integration >/dev/null
# Cases per property of fuzz_sessions (5 properties, one fresh provider per case).
session_cases=100
start=$(date +%s)
round=0
cases=0
sessions=0
while (( $(date +%s) - start < budget )); do
  round=$((round + 1))
  seed=$((1000 + round))
  if ! PROPTEST_RNG_SEED="$seed" FUZZ_CASES=2000 cargo test --locked -q --workspace --test integration -- fuzz_wire:: >/tmp/fuzz-wire.log 2>&1; then
    cat /tmp/fuzz-wire.log
    echo "fuzz_wire failed in round $round: replay with PROPTEST_RNG_SEED=$seed FUZZ_CASES=2000 cargo test --workspace --test integration -- fuzz_wire::" >&2
    exit 1
  fi
  if ! PROPTEST_RNG_SEED="$seed" FUZZ_CASES="$session_cases" cargo test --locked -q --workspace --test integration -- fuzz_sessions:: >/tmp/fuzz-sessions.log 2>&1; then
    cat /tmp/fuzz-sessions.log
    echo "fuzz_sessions failed in round $round: replay with PROPTEST_RNG_SEED=$seed FUZZ_CASES=$session_cases cargo test --workspace --test integration -- fuzz_sessions::" >&2
    exit 1
  fi
  if ! FUZZ_SEED="$seed" FUZZ_ITERATIONS=200 cargo test --locked -q --workspace --test integration -- fuzz_files:: --nocapture >/tmp/fuzz-files.log 2>&1; then
    cat /tmp/fuzz-files.log
    echo "fuzz_files failed in round $round: replay with FUZZ_SEED=$seed FUZZ_ITERATIONS=200 cargo test --workspace --test integration -- fuzz_files::" >&2
    exit 1
  fi
  cases=$((cases + 2 * 2000))
  sessions=$((sessions + 5 * session_cases))
done
files=$(grep -o "[0-9]* mutated files" /tmp/fuzz-files.log | head -1 || true)
echo "fuzzing: $round rounds in $(( $(date +%s) - start )) s; $cases property cases of the wire readers; $sessions generated SMTP/POP3 sessions; per round $files; no failure"
