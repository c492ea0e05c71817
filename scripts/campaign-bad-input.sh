#!/usr/bin/env bash
# The bad-input campaign (docs/reliability.md, issue #18): malformed and hostile inputs from a
# seeded generator against every face of the provider (SMTP submission before and after AUTH,
# in commands and in DATA; the trusted submission listener; the relay face as a trusted peer;
# POP3; HTTP gateway and directory) and the reference intake's SMTP listener
# (sim/tests/campaign_bad_input.rs), then seeded mutations of every shipped scenario, target
# and catalogue file (harness/tests/fuzz_files.rs). Prints the figures per face and in all and
# exits non-zero on any panic, HTTP 5xx, malformed or missing answer, forged provider field
# kept, a face that no longer serves a normal request afterwards, or a file error not located
# inside its file.
#
#   scripts/campaign-bad-input.sh            # 10 × the CI form: 8,100 inputs and 400 mutations per file, seed 18
#   SCALE=100 SEED=7 scripts/campaign-bad-input.sh
#
# CI runs the short forms (810 inputs; 40 mutations per file) as part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${SCALE:-10}"
seed="${SEED:-18}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
CAMPAIGN_SCALE="$scale" CAMPAIGN_SEED="$seed" \
  cargo test --locked -q --workspace --test campaign_bad_input -- --nocapture 2>&1 | tee "$log" |
  grep -v '^running \|^test \|^$\|^test result\|^\.$'
FUZZ_ITERATIONS=$((40 * scale)) FUZZ_SEED="$seed" \
  cargo test --locked -q --workspace --test integration -- fuzz_files:: --nocapture 2>&1 | tee -a "$log" |
  grep -v '^running \|^test \|^$\|^test result\|^\.$'
faces=$(grep -o '^bad-input campaign, seed [0-9]*, [0-9]* inputs' "$log" | grep -o '[0-9]* inputs$' | grep -o '^[0-9]*')
files=$(grep -o '[0-9]* mutated files' "$log" | grep -o '^[0-9]*')
echo "bad-input campaign, seed $seed: $((faces + files)) inputs in all ($faces on the faces, $files mutated files); no failure"
