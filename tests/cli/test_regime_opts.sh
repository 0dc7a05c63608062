#!/usr/bin/env bash
# The classifier's limits as options: `sweep --max-k` and `compare --max-k`
# (slow bursters with more than 12 spikes per burst), the summary line that
# prints the limits, and bad values.
# Usage: test_regime_opts.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

# srk_slow at VS = -36 bursts with more than 12 spikes: irregular by default,
# periodic with the limit raised (docs/models.md, srk_slow table).
"$NM" sweep --model srk_slow --p-min -36 --p-max -36 --p-step 1 --format csv --out "$D/k12.csv" --quiet || fail "sweep"
"$NM" sweep --model srk_slow --p-min -36 --p-max -36 --p-step 1 --format csv --max-k 32 --out "$D/k32.csv" --quiet || fail "sweep --max-k"
grep -q "irregular" "$D/k12.csv" || fail "srk_slow at -36 with max-k 12 should be irregular: $(cat "$D/k12.csv")"
k=$(tail -1 "$D/k32.csv" | cut -d, -f2)
case "$k" in periodic:1[3-9]|periodic:2[0-9]|periodic:3[0-2]) ;; *) fail "srk_slow at -36 with max-k 32: want periodic:13..32, got '$k'" ;; esac

# compare prints its classifier limits, from --max-k.
"$NM" compare --truth srk_slow --p-min -36 --p-max -36 --p-step 1 --max-k 32 --quiet > "$D/cmp.txt" 2>&1 || fail "compare truth only"
grep -q "regimes: patterns of up to 32 spikes per period" "$D/cmp.txt" || fail "compare summary lacks the limits: $(cat "$D/cmp.txt")"

for sel in "sweep --model" "compare --truth"; do
  for bad in 0 5000 x; do
    expect_fail 2 "--max-k" -- "$NM" $sel srk --p-min -40 --p-max -40 --p-step 1 --max-k $bad
  done
done
finish "regime options"
