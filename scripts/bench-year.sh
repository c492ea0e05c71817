#!/usr/bin/env bash
# Benchmark of the scenario runner over a simulated year (issue #20): the office-hours traffic
# of a city of 500,000 through the reference intake, in virtual time, over real sockets. The
# same scenario generator, measurement and output as scripts/bench-month.sh (read its header),
# with the realistic month's rates scaled to the city (CITY / 100,000: 40 Gewerbeanzeigen, 20
# WBS applications and 600 general requests a working day, about 165,000 in the year).
#
#   scripts/bench-year.sh                         # both years
#   YEARS=year-2024 scripts/bench-year.sh         # one
#   CITY=100000 scripts/bench-year.sh             # a smaller city (rates scale with it)
#
# Years:
#   year-2024  01.07.2024 - 30.06.2025: across 31.12.2024 -> 01.01.2025, when the
#              Zustellungsfiktion of § 5a Abs. 4 Satz 1 VwZG moved from the third to the fourth
#              day (PostModG; the WBS Bescheide are served förmlich)
#   year-2026  05.01.2026 - 31.12.2026: across the repeal of the De-Mail routes of § 5a VwZG
#              (assumed 01.07.2026, sim/calendar/src/regime.rs; the intake then falls back on
#              the postal route) to the last day of the De-Mail-G (§ 26, 31.12.2026)
# Checks: every Gewerbeanzeige answered within its § 15 Abs. 1 GewO rule (`all-replies`).
#
# Prints per year: arrivals, wall seconds, applications per wall second, peak RSS, the
# verdict, CPU time and the runner's phase account. Settings: YEARS, CITY (500000), SEED,
# KEEP, BIN, EXTRA_ARGS as in bench-month.sh. Goal of issue #20: under two minutes a year.
set -euo pipefail
cd "$(dirname "$0")/.."
export CITY="${CITY:-500000}"
VARIANTS="${YEARS:-year-2024 year-2026}" exec scripts/bench-month.sh
