#!/usr/bin/env bash
# The crash campaign (docs/reliability.md, issue #18): `serve` killed with SIGKILL at a seeded
# random moment while three clients submit De-Mails, restarted on the same data folder, TRIALS
# times. Prints acknowledged / stored / acknowledged-but-lost (goal 0) / duplicated (goal 0) /
# stored-but-unacknowledged and exits non-zero below the goals.
#
#   scripts/campaign-crash.sh                 # 20 trials, seed 18
#   TRIALS=100 SEED=7 scripts/campaign-crash.sh
#
# CI runs the short form (3 trials) as part of `cargo test` (harness/tests/campaign_crash.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CAMPAIGN_TRIALS="${TRIALS:-20}"
export CAMPAIGN_SEED="${SEED:-18}"
exec cargo test --locked -p demail-harness --test campaign_crash -- --nocapture
