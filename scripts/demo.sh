#!/usr/bin/env bash
# The main job: reproduce Kuptsov & Stankevich (2025) end to end on the
# built-in SRK beta-cell model, on a fresh Debian 12 machine.
#   1. install missing Debian packages, build;
#   2. simulate V at five training values of VS (none silent or single-spike);
#   3. train the VAE + map (`neuromap train`);
#   4. compare the learned map with the ground truth on the 65-point grid
#      VS = -46 .. -30 step 0.25: side-by-side table, agreement, transitions,
#      metrics, and the bifurcation diagram.
# Results go to out/ (override with NM_OUT=...); NM_SEED=... changes the seed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${NM_OUT:-$ROOT/out}"
SEED="${NM_SEED:-1}"
"$ROOT/scripts/deps.sh"
"$ROOT/scripts/build.sh" "$ROOT/build" >/dev/null
mkdir -p "$OUT/series"
NM="$ROOT/build/bin/neuromap"
export OPENBLAS_NUM_THREADS=1
start=$(date +%s)

TRAIN_P=(-42 -38 -36 -34.5 -31)
echo "== 1. ground truth: 200 s of V every 5 ms at VS = ${TRAIN_P[*]} mV =="
args=()
for p in "${TRAIN_P[@]}"; do
  "$NM" simulate --model srk --p "$p" --duration 200000 --dt 5 --transient 20000 --out "$OUT/series/srk_$p.csv"
  "$NM" analyze --format csv "$OUT/series/srk_$p.csv" | tail -1 | awk -F, -v p="$p" '{printf "   VS = %-6s %s, %s spikes\n", p, $12, $7}'
  args+=(--series "$OUT/series/srk_$p.csv" --p "$p")
done

echo "== 2. train: VAE (delay embedding De = 32 -> latent D = 3) + map x(n+1) = F(x(n), VS) =="
"$NM" train "${args[@]}" --seed "$SEED" --out "$OUT/srk.nmap" 2> "$OUT/train.log" || { cat "$OUT/train.log"; exit 1; }
grep -E "^(trained|wrote)" "$OUT/train.log"

echo "== 3. compare with the ground truth on VS = -46 .. -30 step 0.25 (65 points) =="
"$NM" compare "$OUT/srk.nmap" --truth srk --p-min -46 --p-max -30 --p-step 0.25 --format csv \
  --out "$OUT/compare.csv" --isis "$OUT/isis.csv" --plot "$OUT/bifurcation.png" > "$OUT/summary.txt"
column -t -s, "$OUT/compare.csv"
cat "$OUT/summary.txt"
echo
echo "wrote $OUT/srk.nmap (the model), $OUT/compare.csv (the side-by-side table), summary.txt,"
echo "      $OUT/bifurcation.png (ISIs against VS, truth and learned), $OUT/train.log"
echo "total $(( $(date +%s) - start )) s"
