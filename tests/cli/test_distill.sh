#!/usr/bin/env bash
# test_distill.sh -- `neuromap distill` (issue 12, lean networks): a tiny
# two-member model distilled with small settings; the summary it prints, the
# lean file (`info` shows one member and the V head; `run` and `compare` use
# it), same arguments -> the same file, and bad arguments (each names what
# is wrong, exits non-zero and leaves no file behind).
# Usage: test_distill.sh NEUROMAP SCRATCH
set -u
nm="$1"
dir="$2/distill"
rm -rf "$dir" && mkdir -p "$dir"
. "$(dirname "$0")/testlib.sh"
cd "$dir" || exit 1
export OPENBLAS_NUM_THREADS=1

for p in -42 -36 -31; do
  "$nm" simulate --model srk --p "$p" --duration 30000 --dt 5 --transient 5000 --out "s$p.csv" || fail simulate
done
"$nm" train --series s-42.csv --p -42 --series s-36.csv --p -36 --series s-31.csv --p -31 --hidden 32,32 \
  --vae-epochs 6 --map-hidden 32,32 --map-epochs 4 --rollout-iters 60 --ensemble 2 --threads 1 --seed 2 --quiet \
  --out teacher.nmap || fail "train the teacher"

small=(--map-hidden 24,24 --np 5 --duration 10000 --rollout-iters 60 --vhead-hidden 12,12 --threads 1)
err="$("$nm" distill teacher.nmap --out lean.nmap "${small[@]}" 2>&1 >out.txt)" || fail "distill failed: $err"
grep -q '^wrote lean.nmap$' out.txt || fail "no 'wrote' line: $(cat out.txt)"
grep -Eq '^teacher: 2 maps 4-32-32-3 \+ V decoder 3-32-32-1: 3648 multiply-adds a step$' <<<"$err" \
  || fail "teacher line: $err"
grep -Eq '^lean: +1 map 4-24-24-3 \+ V head 3-12-12-1: 936 multiply-adds a step \(3\.9x fewer\)$' <<<"$err" \
  || fail "lean line: $err"
grep -Eq '^distilled in [0-9.]+ s: teacher runs at [0-9]+ p in -47.5 \.\. -25.5' <<<"$err" || fail "runs line: $err"
grep -Eq '^V head against the teacher.s decoder on held-out states: rms [0-9.e-]+ mV' <<<"$err" \
  || fail "V head line: $err"
info="$("$nm" info lean.nmap)" || fail "info refuses the lean model: $info"
grep -Eq 'map.members +i32 +1 +1$' <<<"$info" || fail "info: map.members is not 1"
grep -q 'vhead.params' <<<"$info" || fail "info: no vhead.params"
grep -Eq '^V head: 3-12-12-1 \(tanh,tanh,identity; replaces the decoder at run time; fitted rms [0-9.e-]+ mV, max [0-9.e-]+ mV\)$' \
  <<<"$info" || fail "info: no 'V head: 3-12-12-1 (...)' line"
grep -q 'distill.teacher_command.*train --series' <<<"$info" || fail "info: no distill.teacher_command"
expect_ok "$nm" run lean.nmap --p -36 --duration 5000 --out run.csv
[ "$(wc -l < run.csv)" -gt 900 ] || fail "run wrote $(wc -l < run.csv) lines"
expect_ok "$nm" compare lean.nmap --truth srk --p-min -40 --p-max -32 --p-step 4 --transient 2000 --duration 8000

# Same arguments, same file (meta.command included: same command line).
"$nm" distill teacher.nmap --out lean.nmap "${small[@]}" --quiet >/dev/null || fail "distill again"
cp lean.nmap lean1.nmap
"$nm" distill teacher.nmap --out lean.nmap "${small[@]}" --quiet >/dev/null || fail "distill again"
cmp -s lean.nmap lean1.nmap || fail "the same distill gave another file"
"$nm" distill teacher.nmap --out lean2.nmap "${small[@]}" --no-vhead --quiet >/dev/null || fail "--no-vhead"
"$nm" info lean2.nmap | grep -q "^  vhead" && fail "--no-vhead stored a V head"

# Bad arguments: a message naming the problem, non-zero exit, no file.
expect_fail 2 "--out FILE is required" -- "$nm" distill teacher.nmap
expect_fail 2 "no teacher model given" -- "$nm" distill --out x.nmap
expect_fail 1 "missing.nmap" -- "$nm" distill missing.nmap --out x.nmap
expect_fail 2 "--np: 1 is out of range" -- "$nm" distill teacher.nmap --out x.nmap --np 1
expect_fail 2 "--np" -- "$nm" distill teacher.nmap --out x.nmap --np 1001
expect_fail 2 "give both --p-min and --p-max" -- "$nm" distill teacher.nmap --out x.nmap --p-min -40
expect_fail 2 "is not below --p-max" -- "$nm" distill teacher.nmap --out x.nmap --p-min -30 --p-max -40
expect_fail 2 "--p-min" -- "$nm" distill teacher.nmap --out x.nmap --p-min nan --p-max -30
expect_fail 2 "--map-hidden" -- "$nm" distill teacher.nmap --out x.nmap --map-hidden 0
expect_fail 2 "--vhead-hidden" -- "$nm" distill teacher.nmap --out x.nmap --vhead-hidden 8,x
expect_fail 2 "--p-extend" -- "$nm" distill teacher.nmap --out x.nmap --p-extend -1
expect_fail 2 "--rollout-iters" -- "$nm" distill teacher.nmap --out x.nmap --rollout-iters 0
expect_fail 1 "duration 1 ms" -- "$nm" distill teacher.nmap --out x.nmap --duration 1
expect_fail 2 "one teacher model expected" -- "$nm" distill teacher.nmap lean.nmap --out x.nmap
expect_fail 2 "--bogus" -- "$nm" distill teacher.nmap --out x.nmap --bogus
expect_fail 2 "--input-protocols: 0 is out of range" -- "$nm" distill teacher.nmap --out x.nmap --input-protocols 0
expect_fail 2 "--input-tau" -- "$nm" distill teacher.nmap --out x.nmap --input-tau 0
expect_fail 1 "nodir" -- "$nm" distill teacher.nmap --out nodir/x.nmap
# A corrupted teacher: one payload byte flipped (the checksum catches it).
cp teacher.nmap bad.nmap
size=$(stat -c %s bad.nmap)
printf '\xff' | dd of=bad.nmap bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_fail 1 "bad.nmap" -- "$nm" distill bad.nmap --out x.nmap
no_file x.nmap
"$nm" distill --help | grep -q "Usage: neuromap distill" || fail "--help"
finish distill
