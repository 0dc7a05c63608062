#!/usr/bin/env bash
# `neuromap simulate --noise-mv SD [--noise-tau MS]`: the noise is added to the
# written V only, has the requested SD, is white without --noise-tau and an
# Ornstein-Uhlenbeck process with lag-1 autocorrelation exp(-dt/tau) with it,
# is reproducible from --seed, and bad values are refused.
# Usage: test_simulate_noise.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

# A spiking model (ml1 at I = 60: ~17 Hz, V -43 .. +33 mV), 20 s at 1 ms:
# 20001 samples.
SIM=("$NM" simulate --model ml1 --p 60 --transient 0 --duration 20000 --dt 1)
"${SIM[@]}" --out "$D/clean.csv" || fail "clean run"
"${SIM[@]}" --noise-mv 1.5 --seed 7 --out "$D/white.csv" || fail "white run"
"${SIM[@]}" --noise-mv 1.5 --noise-tau 0 --seed 7 --out "$D/white0.csv" || fail "tau 0 run"
"${SIM[@]}" --noise-mv 1.5 --noise-tau 5 --seed 7 --out "$D/ou.csv" || fail "OU run"
"${SIM[@]}" --noise-mv 1.5 --noise-tau 5 --seed 7 --out "$D/ou_again.csv" || fail "OU rerun"
"${SIM[@]}" --noise-mv 1.5 --noise-tau 5 --seed 8 --out "$D/ou_seed8.csv" || fail "OU seed 8"

# SD, mean and lag-1 autocorrelation of (noisy - clean), and max |t| difference.
stats() {
  paste -d, "$D/clean.csv" "$1" | awk -F, 'NR > 1 {
      d = $4 - $2; n++; s += d; ss += d * d
      if (n > 1) c += d * prev
      prev = d; dt = ($3 - $1) < 0 ? $1 - $3 : $3 - $1; if (dt > tmax) tmax = dt
    } END {
      m = s / n; v = ss / n - m * m
      printf "%.6f %.6f %.6f %g\n", sqrt(v), m, (c / (n - 1) - m * m) / v, tmax
    }'
}
check_stats() { # file want_sd want_rho sd_tol rho_tol mean_tol
  local sd mean rho tmax
  read -r sd mean rho tmax < <(stats "$1")
  awk -v x="$sd" -v w="$2" -v t="$4" 'BEGIN { exit !(x - w <= t && w - x <= t) }' ||
    fail "$1: noise SD $sd, want $2 +- $4"
  awk -v x="$rho" -v w="$3" -v t="$5" 'BEGIN { exit !(x - w <= t && w - x <= t) }' ||
    fail "$1: lag-1 autocorrelation $rho, want $3 +- $5"
  awk -v x="$mean" -v t="$6" 'BEGIN { exit !(x <= t && -x <= t) }' || fail "$1: noise mean $mean"
  [ "$tmax" = 0 ] || fail "$1: time column differs from the clean run by $tmax"
}
# Tolerances are ~5 standard errors.  White: SE(SD) = 1.5/sqrt(2n) = 0.0075,
# SE(rho) = 1/sqrt(n) = 0.007.  OU with a = exp(-1/5) = 0.8187: the effective
# sample count is n (1 - a^2)/(1 + a^2) ~ 3950, SE(SD) ~ 0.017 (0.08 allowed),
# SE(rho) ~ sqrt((1 - a^2)/n) = 0.004 (0.02 allowed); the mean wanders more
# (SE ~ 1.5 sqrt((1 + a)/((1 - a) n)) = 0.034).
check_stats "$D/white.csv" 1.5 0 0.04 0.035 0.06
check_stats "$D/ou.csv" 1.5 0.818731 0.08 0.02 0.17

# tau 0 is white noise, bit for bit; the same seed repeats, another does not.
cmp -s "$D/white.csv" "$D/white0.csv" || fail "--noise-tau 0 differs from white noise"
cmp -s "$D/ou.csv" "$D/ou_again.csv" || fail "the same seed gave different OU noise"
cmp -s "$D/ou.csv" "$D/ou_seed8.csv" && fail "seeds 7 and 8 gave the same OU noise"
cmp -s "$D/ou.csv" "$D/white.csv" && fail "OU noise equals white noise"

# A longer correlation time: lag-1 autocorrelation exp(-1/50) = 0.9802.
"${SIM[@]}" --noise-mv 1 --noise-tau 50 --seed 3 --out "$D/ou50.csv" || fail "OU tau 50"
read -r sd mean rho tmax < <(stats "$D/ou50.csv")
awk -v x="$rho" 'BEGIN { exit !(x > 0.97 && x < 0.99) }' || fail "tau 50: lag-1 autocorrelation $rho"

# Bad values: refused with a message naming the option, no output file.
expect_fail 2 "--noise-tau must be >= 0" -- "${SIM[@]}" --noise-mv 1 --noise-tau -1 --out "$D/bad.csv"
expect_fail 2 "--noise-tau: 'nan' is not a finite number" -- "${SIM[@]}" --noise-mv 1 --noise-tau nan --out "$D/bad.csv"
expect_fail 2 "--noise-tau: 'inf' is not a finite number" -- "${SIM[@]}" --noise-mv 1 --noise-tau inf --out "$D/bad.csv"
expect_fail 2 "--noise-tau: 'abc' is not a finite number" -- "${SIM[@]}" --noise-mv 1 --noise-tau abc --out "$D/bad.csv"
expect_fail 2 "--noise-tau needs --noise-mv SD > 0" -- "${SIM[@]}" --noise-tau 5 --out "$D/bad.csv"
expect_fail 2 "--noise-tau needs --noise-mv SD > 0" -- "${SIM[@]}" --noise-mv 0 --noise-tau 5 --out "$D/bad.csv"
expect_fail 2 "is unknown or needs a value" -- "${SIM[@]}" --noise-mv 1 --noise-tau
no_file "$D/bad.csv"

# The help lists the option and the zoo models.
help="$("$NM" simulate --help)"
for w in --noise-tau ml1 ml2 hr srk_slow; do
  grep -qF -- "$w" <<<"$help" || fail "simulate --help does not mention $w"
done
finish test_simulate_noise
