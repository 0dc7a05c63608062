#!/usr/bin/env bash
# `neuromap train` and `neuromap run` on bad inputs: a message naming the
# problem, a non-zero exit, and no model or output file left behind.
# Usage: test_train_errors.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"
"$NM" simulate --model srk --p -38 --duration 5000 --out "$D/a.csv" || exit 1
"$NM" simulate --model srk --p -38 --duration 5000 --dt 2 --out "$D/b.csv" || exit 1
printf 't_ms,V_mV\n0,-60\n5,nan\n' > "$D/nan.csv"

expect_fail 2 "give at least one --series" -- "$NM" train --out "$D/m.nmap"
expect_fail 2 "2 --series but 1 --p" -- "$NM" train --series "$D/a.csv" --series "$D/a.csv" --p -38 --out "$D/m.nmap"
expect_fail 2 "--out MODEL is required" -- "$NM" train --series "$D/a.csv" --p -38
expect_fail 2 "--p: 'x' is not a finite number" -- "$NM" train --series "$D/a.csv" --p x --out "$D/m.nmap"
expect_fail 2 "--hidden: expected" -- "$NM" train --series "$D/a.csv" --p -38 --hidden 128,,4 --out "$D/m.nmap"
expect_fail 2 "--latent must be in 1..16" -- "$NM" train --series "$D/a.csv" --p -38 --latent 0 --out "$D/m.nmap"
expect_fail 2 "--noise must be >= 0" -- "$NM" train --series "$D/a.csv" --p -38 --noise -1 --out "$D/m.nmap"
expect_fail 2 "--rollout-lr must be > 0" -- "$NM" train --series "$D/a.csv" --p -38 --rollout-lr 0 --out "$D/m.nmap"
expect_fail 2 "--smooth" -- "$NM" train --series "$D/a.csv" --p -38 --smooth -1 --out "$D/m.nmap"
expect_fail 2 "--smooth" -- "$NM" train --series "$D/a.csv" --p -38 --smooth 1e9 --out "$D/m.nmap"
expect_fail 2 "--rollout-batch must be in 1..65536" -- "$NM" train --series "$D/a.csv" --p -38 --rollout-batch 0 --out "$D/m.nmap"
expect_fail 2 "--rollout: expected" -- "$NM" train --series "$D/a.csv" --p -38 --rollout 10,abc --out "$D/m.nmap"
expect_fail 1 "missing.csv: cannot open" -- "$NM" train --series "$D/missing.csv" --p -38 --out "$D/m.nmap"
expect_fail 1 "nan.csv:3" -- "$NM" train --series "$D/nan.csv" --p -38 --out "$D/m.nmap"
expect_fail 1 "has step 2 ms but series 0 has 5 ms" -- "$NM" train --series "$D/a.csv" --p -38 --series "$D/b.csv" --p -36 --out "$D/m.nmap"
no_file "$D/m.nmap"

# --vae: train only the map on a given autoencoder.
"$NM" train-vae --series "$D/a.csv" --p -38 --epochs 2 --hidden 16 --quiet --out "$D/v.nmap" || exit 1
expect_fail 2 "--beta sets up a new autoencoder, but --vae gives a trained one" -- \
  "$NM" train --series "$D/a.csv" --p -38 --vae "$D/v.nmap" --beta 1e-3 --out "$D/m.nmap"
expect_fail 1 "none.nmap" -- "$NM" train --series "$D/a.csv" --p -38 --vae "$D/none.nmap" --out "$D/m.nmap"
expect_fail 1 "autoencoder was trained on samples every 5 ms, the series have 2 ms" -- \
  "$NM" train --series "$D/b.csv" --p -38 --vae "$D/v.nmap" --out "$D/m.nmap"
no_file "$D/m.nmap"
small=(--map-epochs 1 --rollout 5 --rollout-iters 2 --ensemble 1 --quiet)
expect_ok "$NM" train --series "$D/a.csv" --p -38 --vae "$D/v.nmap" "${small[@]}" --out "$D/mv.nmap"
# The model's autoencoder is the given one: the same latent states, bit for bit.
"$NM" encode "$D/v.nmap" "$D/a.csv" --out "$D/mu_v.csv" || exit 1
"$NM" encode "$D/mv.nmap" "$D/a.csv" --out "$D/mu_mv.csv" || exit 1
cmp -s "$D/mu_v.csv" "$D/mu_mv.csv" || fail "train --vae changed the autoencoder (encode differs)"

expect_fail 2 "missing MODEL" -- "$NM" run --p -38 --duration 100 --out "$D/r.csv"
expect_fail 2 "--p VALUE is required" -- "$NM" run "$D/m.nmap" --duration 100 --out "$D/r.csv"
expect_fail 2 "--duration must be > 0" -- "$NM" run "$D/m.nmap" --p -38 --duration -5 --out "$D/r.csv"
expect_fail 1 "cannot open" -- "$NM" run "$D/none.nmap" --p -38 --duration 100 --out "$D/r.csv"
printf 'NMAP garbage' > "$D/bad.nmap"
expect_fail 1 "bad.nmap" -- "$NM" run "$D/bad.nmap" --p -38 --duration 100 --out "$D/r.csv"
no_file "$D/r.csv"

expect_fail 2 "missing MODEL" -- "$NM" fixed-point --p-min -46 --p-max -45 --p-step 1
expect_fail 2 "are all required" -- "$NM" fixed-point "$D/bad.nmap" --p-min -46
expect_fail 2 "--p-step must be > 0" -- "$NM" fixed-point "$D/bad.nmap" --p-min -46 --p-max -45 --p-step 0
expect_fail 2 "unknown model" -- "$NM" fixed-point "$D/bad.nmap" --p-min -46 --p-max -45 --p-step 1 --truth nope
expect_fail 1 "bad.nmap" -- "$NM" fixed-point "$D/bad.nmap" --p-min -46 --p-max -45 --p-step 1

finish "neuromap train/run/fixed-point errors"
