#!/usr/bin/env bash
# test_predict.sh -- `neuromap predict` (issue 11): a model with an input
# channel trained on HH under OU current, run under other recorded input;
# the report's format, determinism, the trace file, and bad inputs.
# Usage: test_predict.sh NEUROMAP SCRATCH
set -u
nm="$1"
dir="$2/predict"
rm -rf "$dir" && mkdir -p "$dir"
. "$(dirname "$0")/testlib.sh"
cd "$dir" || exit 1

# HH (uA/cm2) under OU current: two training series, a held-out one (another
# seed, mean and SD), and a constant-current one without an input column.
"$nm" simulate --model hh --p 0 --input-ou 6:4:3 --input-seed 1 --duration 400 --dt 0.025 --out tr1.csv || fail simulate
"$nm" simulate --model hh --p 0 --input-ou 9:3:3 --input-seed 2 --duration 400 --dt 0.025 --out tr2.csv || fail simulate
"$nm" simulate --model hh --p 0 --input-ou 7:3.5:3 --input-seed 7 --duration 200 --dt 0.025 --out ho.csv || fail simulate
"$nm" simulate --model hh --p 8 --duration 200 --dt 0.025 --out const.csv || fail simulate
head -1 tr1.csv | grep -q '^t_ms,V_mV,I_uA_cm2$' || fail "simulate wrote no input column: $(head -1 tr1.csv)"

train=(--series tr1.csv --p 0 --series tr2.csv --p 0 --vae-epochs 4 --map-epochs 2 --rollout-iters 60
       --ensemble 1 --seed 3 --quiet)
OPENBLAS_NUM_THREADS=1 "$nm" train "${train[@]}" --out in.nmap || fail "train with input"
"$nm" info in.nmap | grep -q 'map.nu' || fail "the model has no input channel (map.nu)"
"$nm" info in.nmap | grep -q 'meta.u_unit.*uA/cm2' || fail "meta.u_unit is not uA/cm2"

out1="$("$nm" predict in.nmap --series ho.csv --out trace.csv)" || fail "predict failed: $out1"
grep -Eq '^gamma: -?[0-9]+\.[0-9]{3} \(delta 2 ms\)$' <<<"$out1" || fail "no 'gamma: X (delta 2 ms)' line: $out1"
grep -Eq '^spikes: data [0-9]+, model [0-9]+, coincident [0-9]+ in ' <<<"$out1" || fail "no spikes line: $out1"
grep -q '^sub-threshold V error: RMS ' <<<"$out1" || fail "no sub-threshold line: $out1"
# The data's spike count is what `analyze` sees in the compared span (HH
# fires in this protocol: the check must not pass on silence).
ndata="$(sed -n 's/^spikes: data \([0-9]*\),.*/\1/p' <<<"$out1")"
[ "${ndata:-0}" -ge 5 ] || fail "held-out series has only ${ndata:-0} spikes"
head -1 trace.csv | grep -q '^t_ms,V_data_mV,V_model_mV,I_uA_cm2$' || fail "trace header: $(head -1 trace.csv)"
[ "$(wc -l < trace.csv)" -gt 1000 ] || fail "trace has $(wc -l < trace.csv) lines"
# Same model and series, same report, bit for bit.
out2="$("$nm" predict in.nmap --series ho.csv)"
[ "$out1" = "$out2" ] || fail "predict is not deterministic"
# A wider window can only count more coincidences.
nc1="$(sed -n 's/.*coincident \([0-9]*\) .*/\1/p' <<<"$out1")"
nc8="$("$nm" predict in.nmap --series ho.csv --delta 8 | sed -n 's/.*coincident \([0-9]*\) .*/\1/p')"
[ "${nc8:-0}" -ge "${nc1:-0}" ] || fail "delta 8 ms counts $nc8 coincidences, delta 2 ms $nc1"

# Input outside the trained range is clamped and said so.
"$nm" simulate --model hh --p 0 --input-step 550:40 --duration 200 --dt 0.025 --out big.csv || fail simulate
"$nm" predict in.nmap --series big.csv | grep -q '^input clamped to the trained range' || fail "no clamping report"
# Steps are found and their latency reported.
"$nm" simulate --model hh --p 0 --input-step 550:12 --input-step 620:-12 --duration 200 --dt 0.025 --out step.csv \
  || fail simulate
"$nm" predict in.nmap --series step.csv | grep -q '^latency after 1 input steps' || fail "no latency line for a step"

# Bad inputs.
expect_fail 1 "no input column" -- "$nm" predict in.nmap --series const.csv
sed '1s/I_uA_cm2/I_nA/' ho.csv > nA.csv
expect_fail 1 "trained with 'uA/cm2'" -- "$nm" predict in.nmap --series nA.csv
awk -F, 'NR==300{$3="nan"}1' OFS=, ho.csv > nan.csv
expect_fail 1 "nan.csv" -- "$nm" predict in.nmap --series nan.csv
expect_fail 2 "--delta" -- "$nm" predict in.nmap --series ho.csv --delta 0
expect_fail 2 "--series FILE is required" -- "$nm" predict in.nmap
expect_fail 1 "missing.nmap" -- "$nm" predict missing.nmap --series ho.csv
expect_fail 2 "go together" -- "$nm" predict in.nmap --series ho.csv --input x.npy
expect_fail 1 "/nonexistent" -- "$nm" predict in.nmap --series ho.csv --out /nonexistent/t.csv
# A model without input runs at constant p, and says so.
OPENBLAS_NUM_THREADS=1 "$nm" train --series const.csv --p 8 --vae-epochs 3 --map-epochs 1 --rollout-iters 20 \
  --ensemble 1 --quiet --out const.nmap || fail "train without input"
"$nm" predict const.nmap --series ho.csv | grep -q 'no input channel' || fail "no note for a model without input"
finish test_predict
