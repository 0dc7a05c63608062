#!/usr/bin/env bash
# make_fixture_model.sh NEUROMAP OUTDIR -- the small learned model every
# learned-cell NEURON test uses (CTest fixture "neuron_model").
#
# Four 60 s SRK series (VS = -42, -38, -34.5, -31 mV, 5 ms sampling) and a
# deliberately short training (about 10 s on one core).  The tests never rely
# on its fidelity, only on behaviour they check against the library itself
# (offline free runs through ctypes): they find silent and firing p values of
# THIS model by running it offline first.
#
# Written to OUTDIR/model.nmap.  Kept between ctest runs while it is newer
# than the neuromap binary, its library and this script (a rebuilt trainer
# trains again).
set -euo pipefail
nm="$1"
out="$2"
mkdir -p "$out"
model="$out/model.nmap"
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

args=()
for p in -42 -38 -34.5 -31; do
    "$nm" simulate --model srk --p "$p" --duration 60000 --dt 5 --out "$out/srk$p.csv"
    args+=(--series "$out/srk$p.csv" --p "$p")
done
OPENBLAS_NUM_THREADS=1 "$nm" train "${args[@]}" --vae-epochs 15 --map-epochs 5 \
    --rollout 10,25 --rollout-iters 150 --seed 1 --quiet --out "$model"
# (not `info | head`: under pipefail, head leaving early kills a long info
# with SIGPIPE and fails the fixture at random)
"$nm" info "$model" > "$out/info.txt"
head -n 3 "$out/info.txt"
echo "fixture: wrote $model"
