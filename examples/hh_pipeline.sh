#!/usr/bin/env bash
# The same pipeline on the Hodgkin-Huxley (1952) squid axon, injected current
# I (uA/cm2) as the control parameter: simulate V at six currents (two below
# the onset of repetitive firing), train, compare over I = 0..20, and check
# the resting state.  Usage: examples/hh_pipeline.sh [OUT_DIR]  (after scripts/demo.sh or a build)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NM="$ROOT/build/bin/neuromap"
if [ ! -d "$ROOT/src" ]; then  # an installed copy (share/neuromap/examples): the
  NM="$(command -v neuromap || echo neuromap)"   # neuromap on PATH, output under ./out
  ROOT="$PWD"
fi
OUT="${1:-$ROOT/out/hh}"
mkdir -p "$OUT"
args=()
for I in 0 5 7 10 15 20; do
  # 2 s of V every 0.1 ms after 0.5 s: a spike lasts about 2 ms.
  "$NM" simulate --model hh --p "$I" --duration 2000 --dt 0.1 --transient 500 --out "$OUT/hh_$I.csv"
  args+=(--series "$OUT/hh_$I.csv" --p "$I")
done
"$NM" train "${args[@]}" --threshold 0 --out "$OUT/hh.nmap" 2> "$OUT/train.log" || { cat "$OUT/train.log"; exit 1; }
grep -E "^trained" "$OUT/train.log"
"$NM" compare "$OUT/hh.nmap" --truth hh --p-min 0 --p-max 20 --p-step 0.5 --dt 0.1 --duration 2000 \
  --transient 500 --plot "$OUT/hh_bifurcation.png" --out "$OUT/compare.txt" > "$OUT/summary.txt"
cat "$OUT/compare.txt" "$OUT/summary.txt"
"$NM" fixed-point "$OUT/hh.nmap" --p-min 0 --p-max 6 --p-step 2 --truth hh
