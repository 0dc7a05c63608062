#!/usr/bin/env bash
# The spread across seeds: the demo's recipe (five 200 s SRK series at
# VS = -42, -38, -36, -34.5, -31; `neuromap train` with its defaults) trained
# with several seeds, each compared on the 65-point grid -46..-30 step 0.25.
# Prints one line per seed and the mean: the numbers of the README's results
# table and of docs/map.md.  About 70 s of training + 15 s of comparison per
# seed on 2 cores.
#
# Usage: examples/srk_seeds.sh [OUT_DIR] [SEEDS...]   (default out/seeds, seeds 1 2 3 4 5;
#        after scripts/demo.sh or a build)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NM="$ROOT/build/bin/neuromap"
if [ ! -d "$ROOT/src" ]; then  # an installed copy (share/neuromap/examples): the
  NM="$(command -v neuromap || echo neuromap)"   # neuromap on PATH, output under ./out
  ROOT="$PWD"
fi
OUT="${1:-$ROOT/out/seeds}"
shift || true
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 2 3 4 5)
command -v "$NM" > /dev/null || { echo "srk_seeds.sh: $NM not found: run scripts/build.sh first" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1
mkdir -p "$OUT/series"

args=()
for p in -42 -38 -36 -34.5 -31; do
  f="$OUT/series/srk_$p.csv"
  [ -s "$f" ] || "$NM" simulate --model srk --p "$p" --duration 200000 --dt 5 --transient 20000 --out "$f"
  args+=(--series "$f" --p "$p")
done

printf '%-5s %-22s %-40s %s\n' seed agreement "training regimes reproduced" "grid points where they differ (VS, mV)"
total=0
for s in "${SEEDS[@]}"; do
  d="$OUT/seed$s"
  mkdir -p "$d"
  "$NM" train "${args[@]}" --seed "$s" --out "$d/srk.nmap" 2> "$d/train.log" || { cat "$d/train.log"; exit 1; }
  "$NM" compare "$d/srk.nmap" --truth srk --p-min -46 --p-max -30 --p-step 0.25 --format csv \
    --out "$d/compare.csv" > "$d/summary.txt" 2> "$d/compare.log"
  n=$(grep -oE '^agreement: [0-9]+/65' "$d/summary.txt" | grep -oE '[0-9]+/' | tr -d /)
  sel=$(grep -oE 'matching the training regimes: [0-9]+ of [0-9]+' "$d/train.log" | grep -oE '[0-9]+ of [0-9]+' || echo "?")
  fails=$(awk -F, 'NR > 1 && $6 == 0 {printf "%s ", $1}' "$d/compare.csv")
  printf '%-5s %-22s %-40s %s\n' "$s" "$n/65 = $(awk -v n="$n" 'BEGIN{printf "%.1f%%", 100*n/65}')" "$sel" "$fails"
  total=$((total + n))
done
awk -v t="$total" -v k="${#SEEDS[@]}" 'BEGIN{printf "mean agreement over %d seeds: %.1f%%\n", k, 100*t/(65*k)}'
