#!/usr/bin/env bash
# `neuromap simulate --input-*` (issue 11): the injected current is written as
# a third column I_<unit> with the model's unit; steps, ramps, OU and
# Poisson/conductance synapses combine; the same --input-seed repeats, another
# does not, and the noise --seed leaves the current alone; without --input-*
# the output is as before; .npy output needs --input-out; bad values are
# refused naming the option and the limit.
# Usage: test_simulate_input.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

HH=("$NM" simulate --model hh --p 0 --transient 0 --duration 200 --dt 0.1)

# Headers: hh in uA/cm2, srk in pA, hr dimensionless; none without input.
"${HH[@]}" --input-step 50:10,150:0 --out "$D/step.csv" || fail "hh step"
[ "$(head -1 "$D/step.csv")" = "t_ms,V_mV,I_uA_cm2" ] || fail "hh header: $(head -1 "$D/step.csv")"
"$NM" simulate --model srk --p -46 --transient 0 --duration 1000 --dt 5 --input-ou 5:2:20 \
  --out "$D/srk.csv" || fail "srk ou"
[ "$(head -1 "$D/srk.csv")" = "t_ms,V_mV,I_pA" ] || fail "srk header: $(head -1 "$D/srk.csv")"
"$NM" simulate --model hr --p 1 --transient 0 --duration 100 --dt 1 --input-ramp 0:100:0:2 \
  --out "$D/hr.csv" || fail "hr ramp"
[ "$(head -1 "$D/hr.csv")" = "t_ms,V_mV,I_1" ] || fail "hr header: $(head -1 "$D/hr.csv")"
"${HH[@]}" --out "$D/none.csv" || fail "hh without input"
[ "$(head -1 "$D/none.csv")" = "t_ms,V_mV" ] || fail "no input: header $(head -1 "$D/none.csv")"

# The staircase: 0 before 50 ms, 10 on [50, 150), 0 after; every row has 3
# fields; the cell fires during the step only (HH: ~68 Hz at 10 uA/cm2).
awk -F, 'NR > 1 {
    want = ($1 >= 50 - 1e-9 && $1 < 150 - 1e-9) ? 10 : 0
    d = $3 - want; if (d < 0) d = -d; if (d > m) m = d
    if (NF != 3) bad++
  } END { exit !(m < 1e-6 && bad == 0) }' "$D/step.csv" || fail "step: the I column is not the staircase"
spikes_in() { # file t0 t1: upward crossings of 0 mV with t0 <= t < t1
  awk -F, -v a="$2" -v b="$3" 'NR > 2 && prev < 0 && $2 >= 0 && $1 >= a && $1 < b { n++ } NR > 1 { prev = $2 }
    END { print n + 0 }' "$1"
}
[ "$(spikes_in "$D/step.csv" 0 50)" = 0 ] || fail "step: spikes before the onset"
n=$(spikes_in "$D/step.csv" 50 150)
[ "$n" -ge 5 ] && [ "$n" -le 8 ] || fail "step: $n spikes during the 100 ms step, want 5..8"
[ "$(spikes_in "$D/step.csv" 160 200)" = 0 ] || fail "step: spikes after the step"

# It reads back (neuromap analyze finds the same spikes).
out=$("$NM" analyze --threshold 0 --format csv "$D/step.csv") || fail "analyze reads the I column"
row=$(sed -n 2p <<<"$out")
ns=$(awk -F, -v r="$(head -1 <<<"$out")" 'BEGIN { split(r, h, ",") } { for (i in h) if (h[i] == "spikes") print $i }' <<<"$row")
[ "$ns" = "$n" ] || fail "analyze: $ns spikes, the file has $n"

# Combined protocols, seeds.
MIX=(--input-ou 6:3:5 --input-poisson 100:2:1 --input-syn 20:0.1:3:0 --input-step 20:1,60:0)
"${HH[@]}" "${MIX[@]}" --input-seed 2 --out "$D/a.csv" || fail "mix seed 2"
"${HH[@]}" "${MIX[@]}" --input-seed 2 --out "$D/b.csv" || fail "mix seed 2 again"
"${HH[@]}" "${MIX[@]}" --input-seed 3 --out "$D/c.csv" || fail "mix seed 3"
"${HH[@]}" "${MIX[@]}" --input-seed 2 --noise-mv 1 --seed 9 --out "$D/n.csv" || fail "mix with noise"
cmp -s "$D/a.csv" "$D/b.csv" || fail "the same --input-seed gave different files"
cmp -s "$D/a.csv" "$D/c.csv" && fail "--input-seed 2 and 3 gave the same file"
cmp -s <(cut -d, -f3 "$D/a.csv") <(cut -d, -f3 "$D/n.csv") || fail "the noise --seed changed the current"
cmp -s <(cut -d, -f2 "$D/a.csv") <(cut -d, -f2 "$D/n.csv") && fail "--noise-mv did not change V"
# the default input seed is 1
"${HH[@]}" "${MIX[@]}" --out "$D/d1.csv" && "${HH[@]}" "${MIX[@]}" --input-seed 1 --out "$D/d2.csv" &&
  cmp -s "$D/d1.csv" "$D/d2.csv" || fail "default --input-seed is not 1"

# --states: t_ms,V_mV,I_uA_cm2,V,m,h,n
"${HH[@]}" --input-ou 0:1:1 --states --out "$D/st.csv" || fail "states"
[ "$(head -1 "$D/st.csv")" = "t_ms,V_mV,I_uA_cm2,V,m,h,n" ] || fail "states header: $(head -1 "$D/st.csv")"

# .npy: V and the current in two files of the same length.
"${HH[@]}" --input-ou 6:3:5 --out "$D/v.npy" --input-out "$D/i.npy" || fail "npy pair"
[ -s "$D/v.npy" ] && [ "$(stat -c %s "$D/v.npy")" = "$(stat -c %s "$D/i.npy")" ] || fail "npy pair sizes"
expect_fail 2 "--input-out FILE.npy" -- "${HH[@]}" --input-ou 6:3:5 --out "$D/x.npy"
no_file "$D/x.npy"
expect_fail 2 "--input-out $D/i.csv: expected a .npy name" -- "${HH[@]}" --input-ou 6:3:5 --out "$D/x.csv" \
  --input-out "$D/i.csv"
expect_fail 2 "--out and --input-out name the same file" -- "${HH[@]}" --input-ou 6:3:5 --out "$D/x.npy" \
  --input-out "$D/x.npy"
expect_fail 2 "--input-out needs an --input-* protocol" -- "${HH[@]}" --out "$D/x.npy" --input-out "$D/i2.npy"
expect_fail 2 "--input-seed needs an --input-* protocol" -- "${HH[@]}" --input-seed 3 --out "$D/x.csv"
no_file "$D/x.csv"

# Bad values name the option (and field) and the limit.
expect_fail 2 "--input-step: expected T0:AMP, got '50'" -- "${HH[@]}" --input-step 50 --out "$D/x.csv"
expect_fail 2 "--input-step: expected T0:AMP[,T0:AMP...], got ''" -- "${HH[@]}" --input-step "" --out "$D/x.csv"
expect_fail 2 "--input-step AMP: 'abc' is not a finite number" -- "${HH[@]}" --input-step 50:abc --out "$D/x.csv"
expect_fail 2 "--input-step AMP: 2e6 is out of range: the limit is 1e+06 in magnitude" -- \
  "${HH[@]}" --input-step 50:2e6 --out "$D/x.csv"
expect_fail 2 "--input-step T0: 1e8 is out of range: the limit is 1e+07 in magnitude" -- \
  "${HH[@]}" --input-step 1e8:1 --out "$D/x.csv"
expect_fail 2 "--input-step: onsets must increase (50 after 60)" -- "${HH[@]}" --input-step 60:1,50:0 \
  --out "$D/x.csv"
expect_fail 2 "--input-ramp: expected T0:T1:A0:A1, got '0:10:1'" -- "${HH[@]}" --input-ramp 0:10:1 --out "$D/x.csv"
expect_fail 2 "--input-ramp: T1 (5) must be > T0 (10)" -- "${HH[@]}" --input-ramp 10:5:0:1 --out "$D/x.csv"
expect_fail 2 "--input-ou SD: -1 is out of range: the limit is 0 .. 1e+06" -- "${HH[@]}" --input-ou 0:-1:5 \
  --out "$D/x.csv"
expect_fail 2 "--input-ou TAU: must be > 0 ms (got 0)" -- "${HH[@]}" --input-ou 0:1:0 --out "$D/x.csv"
expect_fail 2 "--input-ou TAU: 'nan' is not a finite number" -- "${HH[@]}" --input-ou 0:1:nan --out "$D/x.csv"
expect_fail 2 "--input-ou: expected MEAN:SD:TAU, got '1:2:3:4'" -- "${HH[@]}" --input-ou 1:2:3:4 --out "$D/x.csv"
expect_fail 2 "--input-poisson RATE: 2e5 is out of range: the limit is 0 .. 100000" -- \
  "${HH[@]}" --input-poisson 2e5:1:1 --out "$D/x.csv"
expect_fail 2 "--input-poisson RATE: -5 is out of range" -- "${HH[@]}" --input-poisson -5:1:1 --out "$D/x.csv"
expect_fail 2 "--input-syn G: -0.1 is out of range: the limit is 0 .. 1e+06" -- \
  "${HH[@]}" --input-syn 10:-0.1:3:0 --out "$D/x.csv"
expect_fail 2 "--input-syn EREV: 5000 is out of range: the limit is 1000 in magnitude" -- \
  "${HH[@]}" --input-syn 10:0.1:3:5000 --out "$D/x.csv"
expect_fail 2 "--input-seed: " -- "${HH[@]}" --input-ou 0:1:1 --input-seed -1 --out "$D/x.csv"
no_file "$D/x.csv"

# --help documents the protocols with units and an example.
help=$("$NM" simulate --help)
for w in "--input-step T0:AMP" "--input-ramp T0:T1:A0:A1" "--input-ou MEAN:SD:TAU" "--input-poisson RATE:W:TAU" \
  "--input-syn RATE:G:TAU:EREV" "--input-seed N" "pA for srk" "uA/cm2" "Positive = depolarising" \
  "--input-ou 6:3:5"; do
  grep -qF -- "$w" <<<"$help" || fail "--help does not mention '$w'"
done

finish test_simulate_input
