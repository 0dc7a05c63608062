#!/usr/bin/env bash
# simulate -> analyze through CSV and .npy: same spikes, and the regimes of
# design.md at two VS values.  Usage: test_cli_round_trip.sh NEUROMAP SCRATCH_DIR
set -eu
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
"$NM" simulate --model srk --p -38 --duration 30000 --dt 5 --out "$D/v.csv"
"$NM" simulate --model srk --p -38 --duration 30000 --dt 5 --out "$D/v.npy"
"$NM" analyze --format csv "$D/v.csv" > "$D/a_csv.txt"
"$NM" analyze --format csv --dt 5 "$D/v.npy" > "$D/a_npy.txt"
# Same numbers except the file name column (and t0: .npy carries no time).
cut -d, -f2- "$D/a_csv.txt" > "$D/x"
cut -d, -f2- "$D/a_npy.txt" > "$D/y"
diff "$D/x" "$D/y" || { echo "FAIL: CSV and .npy analyses differ"; exit 1; }
grep -q ',periodic:3,3,' "$D/a_csv.txt" || { echo "FAIL: VS=-38 should be bursts of 3:"; cat "$D/a_csv.txt"; exit 1; }
"$NM" simulate --model srk --p -32 --duration 30000 --dt 5 --out "$D/t.csv"
"$NM" analyze --format csv --spikes "$D/spikes.csv" "$D/t.csv" > "$D/t.txt"
grep -q ',periodic:1,1,' "$D/t.txt" || { echo "FAIL: VS=-32 should be tonic:"; cat "$D/t.txt"; exit 1; }
n=$(($(wc -l < "$D/spikes.csv") - 1))
spk=$(tail -1 "$D/t.txt" | cut -d, -f7)
[ "$n" -eq "$spk" ] || { echo "FAIL: spikes file has $n rows, analysis says $spk"; exit 1; }
echo "round trip ok"
