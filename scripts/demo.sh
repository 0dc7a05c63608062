#!/usr/bin/env bash
# The main job: set up on a fresh Debian 12 machine, build, and run the
# reference experiment.  Results go to out/ (override with NM_OUT=...).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${NM_OUT:-$ROOT/out}"
"$ROOT/scripts/deps.sh"
"$ROOT/scripts/build.sh" "$ROOT/build"
mkdir -p "$OUT"
NM="$ROOT/build/bin/neuromap"

echo "== ground truth: the SRK beta-cell model over VS = -46 .. -30 mV (65 points) =="
"$NM" sweep --model srk --p-min -46 --p-max -30 --p-step 0.25 --format csv --out "$OUT/truth_sweep.csv"
"$NM" sweep --model srk --p-min -46 --p-max -30 --p-step 0.25 --quiet
echo "wrote $OUT/truth_sweep.csv"
