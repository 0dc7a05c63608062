#!/usr/bin/env bash
# End to end on the built-in SRK model: simulate five training series,
# `neuromap train` with the default settings, `neuromap compare` on a 33-point
# grid, and `neuromap run`.  Usage: test_pipeline.sh NEUROMAP SCRATCH_DIR
#
# Thresholds (docs/map.md has the measurements behind them):
#   - agreement >= 60%: the shipped defaults scored 69-92% on the 65-point
#     grid over seeds 1-5 (docs/map.md); the margin
#     is for other CPUs (the learned regimes are sensitive to the last bits
#     of the arithmetic, so another BLAS kernel gives another model).  Broken
#     variants score far lower (one-step training only: 0% in the reference
#     experiment, 9% here; 20 VAE epochs and short rollouts: 18-35%).
#   - every learned run stays bounded for 100,000 map steps (500 s).
#   - same seed -> identical model file, byte for byte (small settings).
set -eu
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
export OPENBLAS_NUM_THREADS=1
args=()
for p in -42 -38 -36 -34.5 -31; do
  "$NM" simulate --model srk --p "$p" --duration 200000 --out "$D/s$p.csv"
  args+=(--series "$D/s$p.csv" --p "$p")
done
"$NM" train "${args[@]}" --seed 1 --quiet --out "$D/m.nmap"
"$NM" compare "$D/m.nmap" --truth srk --p-min -46 --p-max -30 --p-step 0.5 --format csv \
  --out "$D/cmp.csv" --quiet > "$D/summary.txt"
cat "$D/summary.txt" | head -5
agree=$(grep -oE '^agreement: [0-9]+/[0-9]+' "$D/summary.txt" | grep -oE '[0-9]+/[0-9]+')
num=${agree%/*}
den=${agree#*/}
[ "$den" -eq 33 ] || { echo "FAIL: expected 33 grid points, got $den"; exit 1; }
[ $((100 * num)) -ge $((60 * den)) ] || { echo "FAIL: agreement $num/$den is below 60%"; exit 1; }
grep -q '^bounded runs: 33/33 ' "$D/summary.txt" || { echo "FAIL: not every learned run stayed bounded"; exit 1; }
[ "$(wc -l < "$D/cmp.csv")" -eq 34 ] || { echo "FAIL: compare CSV should have 33 rows"; exit 1; }

# A free run through `neuromap run`: a trace with the model's step and spikes.
"$NM" run "$D/m.nmap" --p -38 --duration 20000 --transient 10000 --out "$D/run.csv" --spikes "$D/spk.csv" 2> "$D/run.txt"
grep -q 'regime periodic' "$D/run.txt" || { echo "FAIL: run at -38 should burst:"; cat "$D/run.txt"; exit 1; }
[ "$(wc -l < "$D/run.csv")" -eq 4002 ] || { echo "FAIL: 20000 ms at 5 ms should be 4001 samples + header"; exit 1; }

# The silent range (never trained on): a stable fixed point whose decoded V
# is the ODE's resting potential.  Bound 2 mV (the issue's target is 1 mV;
# docs/map.md has the measured values, 0.2-0.6 mV).
"$NM" fixed-point "$D/m.nmap" --p-min -46 --p-max -46 --p-step 1 --truth srk > "$D/fp.txt"
cat "$D/fp.txt"
awk 'NR == 2 { ok = ($4 == "yes" && $5 == "silent" && $7 < 2 && $7 > -2) } END { exit !ok }' "$D/fp.txt" \
  || { echo "FAIL: no stable rest state within 2 mV of the ODE's at VS = -46"; exit 1; }

# Same seed, same model file, byte for byte: two trainings with the very same
# command line (it is stored in the file) from two folders.  Small settings
# keep this part quick; every stage (VAE, one-step, rollouts, selection,
# a 3-member ensemble on 2 threads) still runs.
small=(--vae-epochs 4 --map-epochs 2 --rollout 10,25 --rollout-iters 50 --seed 7 --quiet --out m.nmap)
mkdir -p "$D/det1" "$D/det2"
(cd "$D/det1" && "$NM" train "${args[@]}" "${small[@]}")
(cd "$D/det2" && "$NM" train "${args[@]}" "${small[@]}")
cmp "$D/det1/m.nmap" "$D/det2/m.nmap" || { echo "FAIL: same seed gave a different model file"; exit 1; }
echo "pipeline ok: agreement $num/$den"
