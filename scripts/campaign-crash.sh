#!/usr/bin/env bash
# The crash campaign (docs/reliability.md, issue #18): `serve` killed with SIGKILL at a seeded
# random moment under mixed load — three clients submitting De-Mails, a peer provider handing
# sealed De-Mails over on the relay face, a POP3 client RETRing, DELEing and QUITting, the
# gateway client acknowledging — and restarted on the same data folder, TRIALS times. Prints
# per kind acknowledged / acknowledged-but-lost (goal 0) / duplicated (goal 0) /
# stored-but-unacknowledged, POP3 deletions committed by QUIT +OK and resurrected (goal 0),
# messages never committed and lost (goal 0), gateway acknowledgements lost (goal 0), and
# exits non-zero below the goals.
#
#   scripts/campaign-crash.sh                 # 20 trials, seed 18
#   TRIALS=100 SEED=7 scripts/campaign-crash.sh
#
# CI runs the short form (3 trials) as part of `cargo test` (harness/tests/campaign_crash.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CAMPAIGN_TRIALS="${TRIALS:-20}"
export CAMPAIGN_SEED="${SEED:-18}"
exec cargo test --locked --workspace --test campaign_crash -- --nocapture
