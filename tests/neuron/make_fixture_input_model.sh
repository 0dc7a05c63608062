#!/usr/bin/env bash
# make_fixture_input_model.sh NEUROMAP OUTDIR -- a small model WITH an input
# channel for the input-driven NEURON tests (CTest fixture
# "neuron_input_model"; issue 11).
#
# Hodgkin-Huxley (p = 0, input in uA/cm2) under two OU currents, 400 ms at
# 0.025 ms, and a short training (about a second; the tiny model fires tonically, its
# rate moved a little by the input): the tests only
# compare NEURON with the library's offline driven run of THIS model.
# Written to OUTDIR/input.nmap; kept while it is newer than the neuromap
# binary, its library and this script.
set -euo pipefail
nm="$1"
out="$2"
mkdir -p "$out"
model="$out/input.nmap"
lib="$(dirname "$nm")/../lib/libneuromap.so"

fresh=1
[ -f "$model" ] || fresh=0
for dep in "$nm" "$lib" "${BASH_SOURCE[0]}"; do
    if [ -e "$dep" ] && [ "$fresh" = 1 ] && [ "$dep" -nt "$model" ]; then fresh=0; fi
done
if [ "$fresh" = 1 ] && "$nm" info "$model" > /dev/null 2>&1; then
    echo "fixture: $model is up to date"
    exit 0
fi

"$nm" simulate --model hh --p 0 --input-ou 6:4:3 --input-seed 1 --duration 400 --dt 0.025 --out "$out/in_a.csv"
"$nm" simulate --model hh --p 0 --input-ou 8:4:3 --input-seed 2 --duration 400 --dt 0.025 --out "$out/in_b.csv"
OPENBLAS_NUM_THREADS=1 "$nm" train --series "$out/in_a.csv" --p 0 --series "$out/in_b.csv" --p 0 \
    --vae-epochs 15 --map-epochs 6 --rollout-iters 300 --ensemble 1 --seed 1 --quiet --out "$model.tmp"
mv "$model.tmp" "$model"
"$nm" info "$model" > "$out/input_info.txt"
grep -q 'map.nu' "$out/input_info.txt" || { echo "FAIL: $model has no input channel"; exit 1; }
echo "fixture: wrote $model"
