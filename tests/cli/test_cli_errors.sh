#!/usr/bin/env bash
# Every bad input of `neuromap simulate / analyze / sweep` gives a message that
# names the problem and a non-zero exit, and leaves no output file behind.
# Usage: test_cli_errors.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

# --- top level
expect_fail 2 "unknown command 'frobnicate'" -- "$NM" frobnicate
expect_fail 2 "Usage" -- "$NM"
expect_ok "$NM" --help
expect_ok "$NM" --version
for c in simulate analyze sweep; do expect_ok "$NM" "$c" --help; expect_ok "$NM" help "$c"; done

# --- simulate
expect_fail 2 "--model is required" -- "$NM" simulate --out "$D/a.csv"
expect_fail 2 "unknown model" -- "$NM" simulate --model fitzhugh --out "$D/a.csv"
expect_fail 2 "--out FILE is required" -- "$NM" simulate --model srk
expect_fail 2 "'--bogus' is unknown" -- "$NM" simulate --model srk --bogus --out "$D/a.csv"
expect_fail 2 "--p: 'abc' is not a finite number" -- "$NM" simulate --model srk --p abc --out "$D/a.csv"
expect_fail 2 "--p: 'nan' is not a finite number" -- "$NM" simulate --model srk --p nan --out "$D/a.csv"
expect_fail 2 "--seed: '-3' must be a non-negative integer" -- "$NM" simulate --model srk --seed -3 --out "$D/a.csv"
expect_fail 2 "--param: expected NAME=VALUE" -- "$NM" simulate --model srk --param gCa --out "$D/a.csv"
expect_fail 2 "--param nope" -- "$NM" simulate --model srk --param nope=1 --out "$D/a.csv"
expect_fail 2 "--y0: expected 3" -- "$NM" simulate --model srk --y0 1,2 --out "$D/a.csv"
expect_fail 1 "dt" -- "$NM" simulate --model srk --dt 0 --out "$D/a.csv"
expect_fail 1 "dt" -- "$NM" simulate --model srk --dt -5 --out "$D/a.csv"
expect_fail 1 "duration" -- "$NM" simulate --model srk --duration -1 --out "$D/a.csv"
expect_fail 1 "noise" -- "$NM" simulate --model srk --noise-mv -1 --duration 100 --out "$D/a.csv"
no_file "$D/a.csv"
expect_fail 1 "$D/no/such/dir/a.csv" -- "$NM" simulate --model srk --duration 100 --transient 0 --out "$D/no/such/dir/a.csv"
no_file "$D/no/such/dir/a.csv"

# --- analyze
expect_ok "$NM" simulate --model srk --p -38 --duration 20000 --transient 20000 --out "$D/v.csv"
expect_fail 2 "missing FILE" -- "$NM" analyze
expect_fail 1 "$D/missing.csv: cannot open" -- "$NM" analyze "$D/missing.csv"
printf 't_ms,V_mV\n0,-60\n5,nan\n10,-60\n' > "$D/nan.csv"
expect_fail 1 "nan.csv:3" -- "$NM" analyze "$D/nan.csv"
printf 't_ms,V_mV\n0,-60\n5,-61\n11,-60\n' > "$D/uneven.csv"
expect_fail 1 "uneven.csv:4: uneven sampling" -- "$NM" analyze "$D/uneven.csv"
printf '1,2,3\n4,5,6\n' > "$D/cols.csv"
expect_fail 1 "3 columns" -- "$NM" analyze "$D/cols.csv"
printf -- '-60\n-61\n' > "$D/onecol.csv"
expect_fail 1 "give its sampling step" -- "$NM" analyze "$D/onecol.csv"
expect_fail 2 "--format must be" -- "$NM" analyze --format xml "$D/v.csv"
expect_fail 2 "--skip" -- "$NM" analyze --skip 1e9 "$D/v.csv"
expect_fail 1 "spikes.csv" -- "$NM" analyze --spikes "$D/no/dir/spikes.csv" "$D/v.csv"
: > "$D/empty.csv"
expect_fail 1 "no samples" -- "$NM" analyze "$D/empty.csv"
printf 'garbage' > "$D/bad.npy"
expect_fail 1 "bad magic" -- "$NM" analyze --dt 5 "$D/bad.npy"

# --- sweep
expect_fail 2 "--p-step must be > 0" -- "$NM" sweep --model srk --p-min -40 --p-max -38 --p-step 0
expect_fail 2 "below --p-min" -- "$NM" sweep --model srk --p-min -30 --p-max -40 --p-step 1
expect_fail 2 "are all required" -- "$NM" sweep --model srk --p-min -40
expect_fail 2 "more than" -- "$NM" sweep --model srk --p-min 0 --p-max 1 --p-step 1e-9
expect_fail 2 "--format must be" -- "$NM" sweep --model srk --p-min -40 --p-max -38 --p-step 1 --format xml
expect_fail 2 "unknown model" -- "$NM" sweep --model nope --p-min -40 --p-max -38 --p-step 1

finish "neuromap simulate/analyze/sweep errors"
