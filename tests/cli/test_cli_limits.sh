#!/usr/bin/env bash
# Issue 13: output targets that are not plain files, input limits, option
# ranges, and failing commands that must leave nothing behind.  Every limit
# is listed in docs/limits.md.
# Usage: test_cli_limits.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"
SIM=(simulate --model srk --p -38 --duration 100 --transient 0 --dt 5)

# ---- 1. --out onto a device node, a FIFO, a symlink, a file with its own mode
# (device nodes are made here, never the machine's own /dev)
if mknod "$D/null" c 1 3 2>/dev/null; then
  expect_ok "$NM" "${SIM[@]}" --out "$D/null"
  [ -c "$D/null" ] || fail "--out onto a character device replaced it (now: $(ls -l "$D/null"))"
  expect_ok "$NM" sweep --model srk --p-min -38 --p-max -38 --p-step 1 --duration 2000 --transient 0 --out "$D/null"
  [ -c "$D/null" ] || fail "sweep --out onto a character device replaced it"
  ls "$D"/null.tmp* >/dev/null 2>&1 && fail "a temporary was left next to the device"
else
  echo "note: mknod not permitted here, device-node checks skipped"
fi
mkfifo "$D/fifo"
timeout 30 cat "$D/fifo" > "$D/fifo.out" &  # bounded: a broken writer never opens the FIFO
reader=$!
expect_ok timeout 60 "$NM" "${SIM[@]}" --out "$D/fifo"
wait "$reader" || fail "the FIFO's reader got nothing (timed out)"
[ -p "$D/fifo" ] || fail "--out onto a FIFO replaced it"
head -1 "$D/fifo.out" | grep -q '^t_ms,V_mV' || fail "nothing came through the FIFO"
printf 'old\n' > "$D/real.csv"
chmod 640 "$D/real.csv"
ln -s real.csv "$D/link.csv"
expect_ok "$NM" "${SIM[@]}" --out "$D/link.csv"
[ -L "$D/link.csv" ] || fail "--out onto a symlink replaced the link"
head -1 "$D/real.csv" | grep -q '^t_ms,V_mV' || fail "the symlink was not written through"
[ "$(stat -c %a "$D/real.csv")" = 640 ] || fail "mode of the replaced file is $(stat -c %a "$D/real.csv"), not 640"
mkdir -p "$D/sub"
ln -s ../real.csv "$D/sub/link2.csv"
expect_ok "$NM" "${SIM[@]}" --dt 10 --out "$D/sub/link2.csv"
[ -L "$D/sub/link2.csv" ] || fail "a relative symlink in another folder was replaced"
sed -n 3p "$D/real.csv" | grep -q '^10,' || fail "the relative symlink was not written through"
ls "$D"/sub/*.tmp.* >/dev/null 2>&1 && fail "a temporary was left in the link's folder"
ln -s missing.csv "$D/dangling.csv"
expect_fail 1 "dangling.csv: is a symbolic link to a missing file" -- "$NM" "${SIM[@]}" --out "$D/dangling.csv"
expect_fail 1 "is a directory" -- "$NM" "${SIM[@]}" --out "$D/sub"

# ---- 13. stale temporaries of a killed writer are removed by the next write
# of the same target; a live process's temporary is left alone
dead=$(sh -c 'echo $$')
printf 'partial' > "$D/real.csv.tmp.$dead.AbC123"
printf 'partial' > "$D/real.csv.tmp.$$.XyZ789"
expect_ok "$NM" "${SIM[@]}" --out "$D/real.csv"
[ -e "$D/real.csv.tmp.$dead.AbC123" ] && fail "the stale temporary of a dead process was not removed"
[ -e "$D/real.csv.tmp.$$.XyZ789" ] || fail "the temporary of a live process was removed"
rm -f "$D/real.csv.tmp.$$.XyZ789"

# ---- 4. series files: only regular files, at most 1 GiB, refused at once
printf 't_ms,V_mV\n0,-60\n5,-61\n10,-60\n' > "$D/ok.csv"
mkfifo "$D/in.fifo"
expect_fail 1 "in.fifo: not a regular file" -- timeout 20 "$NM" analyze "$D/in.fifo"
if mknod "$D/zero" c 1 5 2>/dev/null; then
  expect_fail 1 "zero: not a regular file" -- timeout 20 "$NM" analyze "$D/zero"
fi
expect_fail 1 "is a directory" -- "$NM" analyze "$D/sub"
truncate -s 2G "$D/big.csv"
expect_fail 1 "big.csv: 2147483648 bytes is larger than the limit for a series file (1073741824 bytes" -- \
  timeout 20 "$NM" analyze "$D/big.csv"
truncate -s 2G "$D/big.npy"
expect_fail 1 "big.npy: 2147483648 bytes is larger than the limit" -- timeout 20 "$NM" analyze --dt 5 "$D/big.npy"
rm -f "$D/big.csv" "$D/big.npy"

# ---- 5. finite but absurd voltages and times
printf 't_ms,V_mV\n0,-60\n5,1e308\n10,-60\n' > "$D/huge.csv"
expect_fail 1 "huge.csv:3: V = 1e+308 mV is outside the plausible range +-1e+06 mV" -- "$NM" analyze "$D/huge.csv"
printf -- '-60\n-61\n-2e6\n' > "$D/huge1.csv"
expect_fail 1 "huge1.csv:3: V = -2e+06 mV is outside" -- "$NM" analyze --dt 5 "$D/huge1.csv"
printf 't_ms,V_mV\n1e300,-60\n2e300,-61\n3e300,-60\n' > "$D/hugetime.csv"
expect_fail 1 "hugetime.csv:2: t = 1e+300 ms is outside the plausible range" -- "$NM" analyze "$D/hugetime.csv"
python3 - "$D" <<'PY'
import struct, sys
d = sys.argv[1]
def npy(path, descr, payload, n):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (descr, n)
    h += ' ' * ((64 - (10 + len(h) + 1) % 64) % 64) + '\n'
    open(path, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + payload)
npy(d + '/huge.npy', '<f8', struct.pack('<3d', -60, 1e308, -60), 3)
npy(d + '/int.npy', '<i8', struct.pack('<3q', 1, 2, 3), 3)
PY
expect_fail 1 "huge.npy: element 1: V = 1e+308 mV is outside" -- "$NM" analyze --dt 5 "$D/huge.npy"
# ---- 16. the dtype is quoted whole
expect_fail 1 "unsupported dtype '<i8' (need little-endian" -- "$NM" analyze --dt 5 "$D/int.npy"

# ---- 12. NUL bytes in CSV are refused with file:line
printf 't_ms,V_mV\n0,-60\n5,-6\0001\n10,-60\n' > "$D/nul.csv"
expect_fail 1 "nul.csv:3: NUL byte" -- "$NM" analyze "$D/nul.csv"
printf 't_ms,V_mV\n0,-60\n\0005,-61\n10,-60\n' > "$D/nul2.csv"
expect_fail 1 "nul2.csv:3: NUL byte" -- "$NM" analyze "$D/nul2.csv"

# ---- 16. subnormal values are numbers; a UTF-8 byte-order mark is skipped
printf 't_ms,V_mV\n0,1e-320\n5,-61\n10,-60\n' > "$D/subn.csv"
expect_ok "$NM" analyze "$D/subn.csv"
printf '\xef\xbb\xbft_ms,V_mV\n0,-60\n5,-61\n10,-60\n' > "$D/bom.csv"
expect_ok "$NM" analyze "$D/bom.csv"
printf '\xef\xbb\xbfp,regime,period_ms\n-40,silent,\n-38,periodic:3,4000\n' > "$D/bomtable.csv"
expect_ok "$NM" compare --truth-table "$D/bomtable.csv"

# ---- 6, 7. option values beyond their limits are refused up front, naming the limit
"$NM" simulate --model srk --p -38 --duration 20000 --transient 0 --out "$D/v.csv" || fail "simulate v.csv"
expect_fail 2 "--skip: 9.3e19 is out of range: the limit is 1e+15 in magnitude" -- "$NM" analyze --skip 9.3e19 "$D/v.csv"
expect_fail 2 "--skip 1e+14 ms leaves no data" -- "$NM" analyze --skip 1e14 "$D/v.csv"
expect_fail 2 "--threshold: 1e300 is out of range: the limit is 1e+09 in magnitude" -- \
  "$NM" analyze --threshold 1e300 "$D/v.csv"
for c in "simulate --p -38" "sweep --p-min -38 --p-max -38 --p-step 1"; do
  expect_fail 2 "--transient: 1e300 is out of range: the limit is 1e+07 in magnitude" -- timeout 20 \
    "$NM" $c --model srk --duration 100 --transient 1e300 --out "$D/x.csv"
  expect_fail 2 "--duration: 2e7 is out of range: the limit is 1e+07" -- timeout 20 \
    "$NM" $c --model srk --duration 2e7 --out "$D/x.csv"
done
no_file "$D/x.csv"
expect_fail 2 "--transient: 1e300 is out of range" -- timeout 20 \
  "$NM" compare --truth srk --p-min -38 --p-max -38 --p-step 1 --transient 1e300
expect_fail 2 "--stsp-tau: 1e300 is out of range: the limit is 1e+07" -- timeout 20 \
  "$NM" compare --truth srk --p-min -38 --p-max -38 --p-step 1 --stsp-tau 1e300
expect_fail 2 "--bound-steps: 99999999999 is out of range: the limit is 1000000000" -- timeout 20 \
  "$NM" compare --truth srk --p-min -38 --p-max -38 --p-step 1 --bound-steps 99999999999
expect_fail 2 "--p: 1e300 is out of range" -- "$NM" simulate --model srk --p 1e300 --out "$D/x.csv"
expect_fail 2 "--seed: '99999999999999999999' is not a non-negative integer below 2^64" -- \
  "$NM" simulate --model srk --seed 99999999999999999999 --out "$D/x.csv"
# a subnormal is a number: the message is the integrator's, not "not a number"
expect_fail 1 "rtol" -- "$NM" simulate --model srk --duration 100 --transient 0 --rtol 1e-320 --out "$D/x.csv"
rm -f "$D/x.csv"

# ---- 3, 16. train-vae / vae-scan sizes and hyperparameters; messages name the option
VAE=(train-vae --series "$D/v.csv" --p -38 --de 16 --hidden 8 --epochs 1 --quiet)
expect_fail 2 "--batch: 10000000 is out of range: the limit is 65536" -- "$NM" "${VAE[@]}" --batch 10000000 --out "$D/m.nmap"
expect_fail 2 "--de: 9999999 is out of range: the limit is 1048576" -- "$NM" "${VAE[@]}" --de 9999999 --out "$D/m.nmap"
expect_fail 2 "--batch: 10000000 is out of range" -- "$NM" vae-scan --series "$D/v.csv" --p -38 --batch 10000000 --table "$D/t.csv"
expect_fail 2 "--beta: 1e300 is out of range: the limit is 0 .. 1000" -- "$NM" "${VAE[@]}" --beta 1e300 --out "$D/m.nmap"
expect_fail 2 "--lr: 1e300 is out of range" -- "$NM" "${VAE[@]}" --lr 1e300 --out "$D/m.nmap"
expect_fail 2 "--hidden: expected up to 4 comma-separated integers in 1..4096" -- "$NM" "${VAE[@]}" --hidden 65536 --out "$D/m.nmap"
expect_fail 2 "--epochs: 9999999999 is out of range" -- "$NM" "${VAE[@]}" --epochs 9999999999 --out "$D/m.nmap"
expect_fail 2 "--latent is not an option of vae-scan: it trains D = 1..--dmax (did you mean --dmax?)" -- \
  "$NM" vae-scan --series "$D/v.csv" --p -38 --latent 2 --table "$D/t.csv"
expect_fail 2 "--dmax is not an option of train-vae (it is one of vae-scan)" -- "$NM" "${VAE[@]}" --dmax 2 --out "$D/m.nmap"
expect_fail 2 "--beta: 1e300 is out of range" -- "$NM" train --series "$D/v.csv" --p -38 --beta 1e300 --out "$D/m.nmap"
expect_fail 2 "--rollout-batch: 10000000 is out of range: the limit is 65536" -- \
  "$NM" train --series "$D/v.csv" --p -38 --rollout-batch 10000000 --out "$D/m.nmap"
expect_fail 2 "--vae-epochs: 9999999999 is out of range" -- \
  "$NM" train --series "$D/v.csv" --p -38 --vae-epochs 9999999999 --out "$D/m.nmap"
no_file "$D/m.nmap"
no_file "$D/t.csv"

# ---- 11. every output location is checked before any work; a failure removes
# the outputs the command already wrote
"$NM" simulate --model srk --p -38 --duration 5000 --out "$D/a.csv" || fail "simulate a.csv"
"$NM" train-vae --series "$D/a.csv" --p -38 --epochs 2 --hidden 16 --quiet --out "$D/v.nmap" || fail "train-vae"
"$NM" train --series "$D/a.csv" --p -38 --vae "$D/v.nmap" --map-epochs 1 --rollout 5 --rollout-iters 2 --ensemble 1 \
  --quiet --out "$D/m.nmap" || fail "train"
M="$D/m.nmap"
NX="$D/nonexistent"
expect_fail 1 "--spikes: cannot create $NX/s.csv" -- "$NM" run "$M" --p -38 --duration 100 --out "$D/r.csv" --spikes "$NX/s.csv"
no_file "$D/r.csv"
expect_fail 1 "--states: cannot create $NX/x.csv" -- "$NM" run "$M" --p -38 --duration 100 --out "$D/r.csv" --states "$NX/x.csv"
no_file "$D/r.csv"
expect_fail 2 "--out and --spikes name the same file" -- "$NM" run "$M" --p -38 --duration 100 --out "$D/r.csv" --spikes "$D/r.csv"
expect_fail 2 "--transient: 1e300 is out of range" -- timeout 20 "$NM" run "$M" --p -38 --transient 1e300 --duration 100 --out "$D/r.csv"
no_file "$D/r.csv"
if mknod "$D/full" c 1 7 2>/dev/null; then
  # the spike file's write fails (ENOSPC) after the trace was written: the trace goes too
  expect_fail 1 "full" -- "$NM" run "$M" --p -38 --duration 100 --out "$D/r.csv" --spikes "$D/full"
  no_file "$D/r.csv"
  # an existing file is not removed (its old content is replaced either way)
  printf 'old\n' > "$D/r.csv"
  expect_fail 1 "full" -- "$NM" run "$M" --p -38 --duration 100 --out "$D/r.csv" --spikes "$D/full"
  [ -f "$D/r.csv" ] || fail "an output that existed before was removed"
  rm -f "$D/r.csv"
fi
expect_fail 1 "cannot create $NX/dir/m.nmap" -- timeout 10 "$NM" train --series "$D/a.csv" --p -38 --out "$NX/dir/m.nmap"
expect_fail 1 "cannot create $NX/v.nmap" -- timeout 10 "$NM" train-vae --series "$D/a.csv" --p -38 --out "$NX/v.nmap"
expect_fail 1 "--table: cannot create $NX/t.csv" -- timeout 10 \
  "$NM" vae-scan --series "$D/a.csv" --p -38 --epochs 2 --hidden 8 --dmax 2 --curves "$D/c.csv" --table "$NX/t.csv"
expect_fail 1 "--save-models: cannot create $NX/pre_D1.nmap" -- timeout 10 \
  "$NM" vae-scan --series "$D/a.csv" --p -38 --epochs 2 --hidden 8 --dmax 2 --curves "$D/c.csv" --save-models "$NX/pre"
no_file "$D/c.csv"
expect_fail 1 "cannot create $NX/mu.csv" -- "$NM" encode "$D/v.nmap" "$D/a.csv" --out "$NX/mu.csv"
expect_fail 1 "cannot create $NX/s.csv" -- "$NM" analyze --spikes "$NX/s.csv" "$D/a.csv"
expect_fail 1 "cannot create $NX/sw.csv" -- timeout 10 "$NM" sweep --model srk --p-min -40 --p-max -30 --p-step 1 --out "$NX/sw.csv"
expect_fail 1 "cannot create $NX/o.csv" -- timeout 10 "$NM" simulate --model srk --out "$NX/o.csv"
expect_fail 1 "--plot: cannot create $NX/b.png" -- timeout 10 \
  "$NM" compare "$M" --truth srk --p-min -40 --p-max -30 --p-step 1 --out "$D/cmp.csv" --plot "$NX/b.png"
expect_fail 1 "--isis: cannot create $NX/b.isis.csv" -- timeout 10 \
  "$NM" compare "$M" --truth srk --p-min -40 --p-max -30 --p-step 1 --out "$D/cmp.csv" --plot "$D/b.png" --isis "$NX/b.isis.csv"
no_file "$D/cmp.csv"

# ---- 5 (again). absurd voltages are refused by every reader of series
expect_fail 1 "huge.csv:3: V = 1e+308 mV is outside" -- "$NM" encode "$D/v.nmap" "$D/huge.csv" --out "$D/mu.csv"
no_file "$D/mu.csv"
expect_fail 1 "huge.csv:3: V = 1e+308 mV is outside" -- \
  "$NM" compare "$M" --truth srk --p-min -40 --p-max -38 --p-step 1 --truth-series "$D/huge.csv" --p -38

finish test_cli_limits
