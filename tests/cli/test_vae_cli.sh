#!/usr/bin/env bash
# `neuromap train-vae / vae-scan / encode / info` on short simulated series:
# the outputs, the same model bytes for the same command, and every bad input
# giving a message, a non-zero exit and no output file.
# Usage: test_vae_cli.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
export OPENBLAS_NUM_THREADS=1   # bit-identical models need single-threaded BLAS (docs/vae.md)
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

# --- data: 10 s of SRK at two VS values (2001 samples each)
"$NM" simulate --model srk --p -38 --duration 10000 --transient 5000 --dt 5 --out "$D/v38.csv" || fail "simulate"
"$NM" simulate --model srk --p -31 --duration 10000 --transient 5000 --dt 5 --out "$D/v31.npy" || fail "simulate"
TRAIN=(train-vae --series "$D/v38.csv" --p -38 --series "$D/v31.npy" --p -31 --dt 5
       --de 16 --hidden 16,16 --latent 3 --epochs 4 --batch 128 --seed 9)

# --- train-vae: progress lines, model file, same bytes twice
"$NM" "${TRAIN[@]}" --out "$D/m.nmap" 2>"$D/train.err" || fail "train-vae: $(cat "$D/train.err")"
grep -q "^vae  *1/4  *loss .*val .*recon .*kl .*ETA" "$D/train.err" || fail "no progress line: $(cat "$D/train.err")"
grep -q "active units" "$D/train.err" || fail "no final report"
[ -s "$D/m.nmap" ] || fail "no model file"
cp "$D/m.nmap" "$D/m1.nmap"
"$NM" "${TRAIN[@]}" --out "$D/m.nmap" 2>/dev/null || fail "train-vae (second run)"
cmp -s "$D/m.nmap" "$D/m1.nmap" || fail "same command and seed gave different model bytes"
"$NM" "${TRAIN[@]}" --out "$D/q.nmap" --quiet 2>"$D/quiet.err" || fail "train-vae --quiet"
[ -s "$D/quiet.err" ] && fail "--quiet printed: $(cat "$D/quiet.err")"

# --- --threads: batches of 300 rows are 3 shards; 1 and 3 threads give the same
# networks (the model files differ only in the stored command line)
for t in 1 3; do
  "$NM" "${TRAIN[@]}" --batch 300 --threads $t --quiet --out "$D/t$t.nmap" 2>/dev/null || fail "train-vae --threads $t"
  "$NM" encode "$D/t$t.nmap" "$D/v38.csv" --out "$D/t$t.npy" || fail "encode (--threads $t)"
done
cmp -s "$D/t1.npy" "$D/t3.npy" || fail "--threads 1 and --threads 3 gave different encoders"
"$NM" info "$D/t1.nmap" | grep -v "meta\.\|t1.nmap" > "$D/t1.info"
"$NM" info "$D/t3.nmap" | grep -v "meta\.\|t3.nmap" > "$D/t3.info"
cmp -s "$D/t1.info" "$D/t3.info" || fail "--threads changed the model: $(diff "$D/t1.info" "$D/t3.info")"
cmp -s "$D/t1.nmap" "$D/m1.nmap" && fail "--batch 300 gave the --batch 128 model (the check cannot fail)"
expect_fail 2 "--threads: 257 is out of range" -- "$NM" "${TRAIN[@]}" --threads 257 --out "$D/x.nmap"

# --- info
"$NM" info "$D/m.nmap" >"$D/info.txt" 2>&1 || fail "info: $(cat "$D/info.txt")"
for needle in "format 1.0" "De 16 samples at 5 ms" "latent D 3" "encoder 16-16-16-6 (tanh,tanh,identity)" \
              "decoder 3-16-16-16" "active units" "vae.enc.params" "f32" "meta.vae_command" \
              "meta.vae_train_p" "-38 -31" "norm.v_mean"; do
  grep -qF -- "$needle" "$D/info.txt" || fail "info lacks '$needle'"
done

# --- encode: CSV (header mu1..mu3, one row per delay vector) and .npy
"$NM" encode "$D/m.nmap" "$D/v38.csv" --out "$D/mu.csv" || fail "encode csv"
[ "$(head -1 "$D/mu.csv")" = "mu1,mu2,mu3" ] || fail "encode header: $(head -1 "$D/mu.csv")"
rows=$(($(wc -l <"$D/mu.csv") - 1))
[ "$rows" -eq $((2001 - 16 + 1)) ] || fail "encode wrote $rows rows, want 1986"
"$NM" encode "$D/m.nmap" "$D/v31.npy" --out "$D/mu.npy" || fail "encode npy"
[ -s "$D/mu.npy" ] || fail "no mu.npy"

# --- vae-scan: curves, table, chosen D
"$NM" vae-scan --series "$D/v38.csv" --p -38 --de 16 --hidden 16,16 --epochs 2 --dmax 2 --quiet \
  --curves "$D/curves.csv" --table "$D/table.csv" --save-models "$D/scan" >"$D/scan.txt" 2>&1 ||
  fail "vae-scan: $(cat "$D/scan.txt")"
grep -q "^chosen D = [12]$" "$D/scan.txt" || fail "vae-scan names no D: $(cat "$D/scan.txt")"
[ "$(head -1 "$D/curves.csv")" = "D,epoch,loss,val_loss,recon,kl" ] || fail "curves header"
[ "$(wc -l <"$D/curves.csv")" -eq 5 ] || fail "curves: want 2 D x 2 epochs + header"
head -1 "$D/table.csv" | grep -q "^D,epochs,loss,val_loss,recon,val_recon,kl,active_units,kl_1,kl_2,var_1,var_2$" ||
  fail "table header: $(head -1 "$D/table.csv")"
[ "$(wc -l <"$D/table.csv")" -eq 3 ] || fail "table rows"
[ -s "$D/scan_D1.nmap" ] && [ -s "$D/scan_D2.nmap" ] || fail "vae-scan --save-models"

# --- bad inputs: message, exit code, no output left behind
expect_fail 1 "$D/nope.csv" -- "$NM" train-vae --series "$D/nope.csv" --p 1 --out "$D/x.nmap"
expect_fail 2 "1 --series but 0 --p" -- "$NM" train-vae --series "$D/v38.csv" --out "$D/x.nmap"
expect_fail 2 "2 --series but 1 --p" -- "$NM" train-vae --series "$D/v38.csv" --series "$D/v38.csv" --p 1 --out "$D/x.nmap"
expect_fail 2 "at least one --series" -- "$NM" train-vae --out "$D/x.nmap"
expect_fail 2 "--out MODEL is required" -- "$NM" train-vae --series "$D/v38.csv" --p 1
expect_fail 2 "--beta: 'abc' is not a finite number" -- "$NM" "${TRAIN[@]}" --beta abc --out "$D/x.nmap"
expect_fail 2 "--p: 'x' is not a finite number" -- "$NM" train-vae --series "$D/v38.csv" --p x --out "$D/x.nmap"
expect_fail 2 "--epochs: '-1' must be a non-negative integer" -- "$NM" "${TRAIN[@]}" --epochs -1 --out "$D/x.nmap"
expect_fail 2 "--hidden" -- "$NM" "${TRAIN[@]}" --hidden 16,0 --out "$D/x.nmap"
expect_fail 2 "--hidden" -- "$NM" "${TRAIN[@]}" --hidden 16, --out "$D/x.nmap"
expect_fail 2 "--dt: must be > 0" -- "$NM" "${TRAIN[@]}" --dt 0 --out "$D/x.nmap"
expect_fail 2 "'--bogus' is unknown" -- "$NM" "${TRAIN[@]}" --bogus --out "$D/x.nmap"
expect_fail 2 "not an option of train-vae" -- "$NM" "${TRAIN[@]}" --dmax 3 --out "$D/x.nmap"
expect_fail 1 "latent dimension" -- "$NM" "${TRAIN[@]}" --latent 0 --out "$D/x.nmap"
expect_fail 1 "epochs" -- "$NM" "${TRAIN[@]}" --epochs 0 --out "$D/x.nmap"
expect_fail 1 "need at least 5000" -- "$NM" "${TRAIN[@]}" --de 5000 --out "$D/x.nmap"
expect_fail 1 "(--dt)" -- "$NM" train-vae --series "$D/v31.npy" --p 1 --out "$D/x.nmap"
expect_fail 1 "$D/no/dir/x.nmap" -- "$NM" "${TRAIN[@]}" --out "$D/no/dir/x.nmap"
no_file "$D/x.nmap"
no_file "$D/no/dir/x.nmap"

expect_fail 2 "not an option of vae-scan" -- "$NM" vae-scan --series "$D/v38.csv" --p 1 --latent 2 --table "$D/t.csv"
expect_fail 2 "give at least one of" -- "$NM" vae-scan --series "$D/v38.csv" --p 1
expect_fail 2 "--dmax: must be in 1..16" -- "$NM" vae-scan --series "$D/v38.csv" --p 1 --dmax 17 --table "$D/t.csv"
no_file "$D/t.csv"

# Corrupted and truncated model files.
cp "$D/m.nmap" "$D/flip.nmap"
printf '\xff' | dd of="$D/flip.nmap" bs=1 seek=400 conv=notrunc status=none
head -c 2000 "$D/m.nmap" >"$D/cut.nmap"
printf 'hello' >"$D/text.nmap"
for f in flip cut text; do
  expect_fail 1 "$D/$f.nmap" -- "$NM" info "$D/$f.nmap"
  expect_fail 1 "$D/$f.nmap" -- "$NM" encode "$D/$f.nmap" "$D/v38.csv" --out "$D/mu_bad.csv"
done
expect_fail 1 "checksum" -- "$NM" info "$D/flip.nmap"
expect_fail 1 "truncated" -- "$NM" info "$D/cut.nmap"
expect_fail 1 "not a neuromap model file" -- "$NM" encode "$D/text.nmap" "$D/v38.csv" --out "$D/mu_bad.csv"
expect_fail 1 "$D/missing.nmap" -- "$NM" info "$D/missing.nmap"
expect_fail 2 "expected one MODEL" -- "$NM" info
expect_fail 2 "expected MODEL and SERIES" -- "$NM" encode "$D/m.nmap" --out "$D/mu_bad.csv"
expect_fail 2 "--out FILE is required" -- "$NM" encode "$D/m.nmap" "$D/v38.csv"
expect_fail 1 "trained at 5 ms" -- "$NM" encode "$D/m.nmap" "$D/v31.npy" --dt 2 --out "$D/mu_bad.csv"
expect_fail 1 "$D/nope.csv" -- "$NM" encode "$D/m.nmap" "$D/nope.csv" --out "$D/mu_bad.csv"
expect_fail 1 "$D/no/dir/mu.csv" -- "$NM" encode "$D/m.nmap" "$D/v38.csv" --out "$D/no/dir/mu.csv"
no_file "$D/mu_bad.csv"
no_file "$D/no/dir/mu.csv"
for c in train-vae vae-scan encode info; do
  "$NM" "$c" --help >/dev/null 2>&1 || fail "$c --help"
done

finish "VAE CLI"
