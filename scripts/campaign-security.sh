#!/usr/bin/env bash
# The security-matrix campaign (docs/reliability.md, issue #18): every attack of the matrix
# against the face it targets, each proven by a transcript test that asserts the refusal
# (code, enhanced status, closed session, no stored message, no leaked page). Runs each test
# on its own, prints one line per attack and the share refused; exits 1 unless 100 %.
#
#   scripts/campaign-security.sh
set -uo pipefail
cd "$(dirname "$0")/.."

# attack | package | test file | test name (one row per test; an attack may have several).
# Each package builds the files under tests/ into one binary, `integration`, in which a test
# is named file::test.
MATRIX=$(cat <<'EOF'
AUTH before STARTTLS (SMTP submission)|demail-sim|smtp_faces|auth_requires_tls
AUTH before STLS (POP3)|demail-sim|pop3|logins_need_tls
AUTH guessing (SMTP: 535 twice, then 421 and closed)|demail-sim|smtp_faces|failed_logins_end_the_session
AUTH guessing (POP3)|demail-sim|pop3|wrong_password_thrice_ends_the_session
forged sender (MAIL FROM or From not the account)|demail-sim|smtp_faces|sender_must_be_the_account_and_recipient_must_exist
forged provider fields (X-de-mail-sender, -message-id, …)|demail-sim|smtp_faces|client_copies_of_provider_fields_are_removed
forged Received stamp|demail-sim|received|submission_face_stamps_the_virtual_time_above_a_forged_stamp
hostile EHLO on the trusted listener|demail-sim|received|trusted_listener_stamps_esmtp_and_never_copies_a_hostile_ehlo
repeated origin fields (two From, two Subject)|demail-sim|smtp_faces|repeated_or_multiple_origin_fields_are_refused
readers disagreeing on a repeated Subject|demail-sim|smtp_faces|readers_agree_on_the_first_subject
repeated De-Mail fields of the sender (X-de-mail-private-id, options)|demail-sim|smtp_faces|repeated_demail_fields_of_the_sender_are_refused
absenderbestätigt without level high|demail-sim|smtp_faces|authoritative_needs_level_high
absenderbestätigt by a pseudonym|demail-sim|smtp_faces|authoritative_refused_for_pseudonyms
cross-account read, gateway API|demail-sim|gateway|other_accounts_message_is_not_visible
gateway API without or with a wrong token|demail-sim|gateway|missing_or_wrong_token_is_401_with_challenge
cross-account read, POP3 (persönlich at level normal)|demail-sim|pop3|persoenlich_hidden_at_normal_and_shown_with_a_certificate
POP3 AUTH EXTERNAL with another account's certificate|demail-sim|pop3|external_needs_the_accounts_certificate
untrusted or foreign (self-signed CA) peer on the relay|demail-sim|relay|untrusted_and_foreign_peers_are_refused
SMTP smuggling, submission face|demail-sim|smtp_faces|smuggled_end_of_data_is_not_a_line_end
SMTP smuggling, relay face|demail-sim|smtp_faces|relay_face_does_not_split_on_bare_line_ends
SMTP smuggling, the intake's listener|demail-sim|smtp_faces|intake_listener_closes_on_bare_line_ends
NUL or 8-bit bytes in header fields|demail-sim|smtp_faces|nul_and_8bit_header_bytes_are_refused
plain e-mail at the intake|demail-sim|smtp_faces|intake_listener_refuses_plain_mail_and_closes
web UI switched off by default|demail-sim|ui|the_ui_is_off_unless_switched_on
web UI: hostile values, CSP, foreign Host (DNS rebinding)|demail-sim|ui|pages_escape_hostile_values_and_carry_the_csp
run view: paths out of the run folder, foreign Host|demail-harness|view|the_run_view_shows_checks_timeline_and_messages
broken or foreign seal not binding (flawed intakes caught)|demail-harness|flaws|each_flaw_fails_exactly_its_cases_and_the_reference_passes_them_all
EOF
)

# Always the whole workspace: `-p demail-sim` alone resolves its dependencies' features
# differently and so rebuilds demail-sim and every test of it (2 GB more of target/ and
# minutes of CI, seen 2026-12-07). After `cargo test --workspace` this build is a no-op.
echo "building the tests …"
cargo test --locked -q --workspace --no-run >/dev/null 2>&1 || { echo "build failed" >&2; exit 2; }

total=0; refused=0; failed_rows=()
while IFS='|' read -r attack pkg file name; do
  [ -n "$attack" ] || continue
  total=$((total + 1))
  if out=$(cargo test --locked -q --workspace --test integration -- --exact "$file::$name" 2>&1) \
     && grep -q "test result: ok. 1 passed" <<<"$out"; then
    refused=$((refused + 1))
    printf '  refused      %-58s %s::%s\n' "$attack" "$file" "$name"
  else
    failed_rows+=("$attack")
    printf '  NOT REFUSED  %-58s %s::%s\n' "$attack" "$file" "$name"
  fi
done <<<"$MATRIX"

pct=$(( refused * 100 / total ))
echo "security matrix: ${refused} of ${total} attacks refused (${pct} %)"
if [ "$refused" -ne "$total" ]; then
  printf 'not refused: %s\n' "${failed_rows[@]}"
  exit 1
fi
