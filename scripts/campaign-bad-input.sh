#!/usr/bin/env bash
# The bad-input campaign (docs/reliability.md, issue #18): malformed and hostile inputs from a
# seeded generator against every face of the provider (SMTP submission before and after AUTH,
# in commands and in DATA; POP3; HTTP gateway and directory) and the reference intake's SMTP
# listener. Prints the figures per face and exits non-zero on any panic, HTTP 5xx, malformed
# or missing answer, or a face that no longer serves a normal request afterwards.
#
#   scripts/campaign-bad-input.sh            # 10 × the CI form: 6,100 inputs, seed 18
#   SCALE=100 SEED=7 scripts/campaign-bad-input.sh
#
# CI runs the short form (610 inputs) as part of `cargo test` (sim/tests/campaign_bad_input.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CAMPAIGN_SCALE="${SCALE:-10}"
export CAMPAIGN_SEED="${SEED:-18}"
exec cargo test --locked -p demail-sim --test campaign_bad_input -- --nocapture
