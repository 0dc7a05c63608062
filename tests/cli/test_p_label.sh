#!/usr/bin/env bash
# The control parameter's name and unit (issue 14): `train --p-name/--p-unit`
# store meta.p_name / meta.p_unit, `info` shows them with p's default (the
# centre of the training range, where NEURON cells start), Python's
# LearnedModel reads them; bad values are refused before any training (exit
# 2, the rule named); files without the entries (older) load with "p" and
# "", edited bad entries are refused by info and run (exit 1, entry named).
# Usage: test_p_label.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"
PYDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../python" && pwd)"
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1

"$NM" simulate --model srk --p -38 --duration 20000 --out "$D/a.csv" || exit 1
"$NM" simulate --model srk --p -34.5 --duration 20000 --out "$D/b.csv" || exit 1
TINY=(--series "$D/a.csv" --p -38 --series "$D/b.csv" --p -34.5 --de 32 --latent 3 --vae-epochs 3
      --hidden 16,16 --map-hidden 16,16 --map-epochs 2 --rollout 5 --rollout-iters 5 --ensemble 1 --no-auto
      --quiet)

# Bad names and units: refused up front (no model written), the rule named.
expect_fail 2 "--p-name: p name 'a b': character 1 (byte 0x20) is not allowed" -- \
  "$NM" train "${TINY[@]}" --p-name "a b" --out "$D/bad.nmap"
expect_fail 2 "--p-name: p name '': it is empty" -- "$NM" train "${TINY[@]}" --p-name "" --out "$D/bad.nmap"
expect_fail 2 "it has 33 characters (at most 32)" -- \
  "$NM" train "${TINY[@]}" --p-name "$(printf 'x%.0s' $(seq 33))" --out "$D/bad.nmap"
expect_fail 2 "--p-unit: p unit 'u A': character 1 (byte 0x20) is not allowed" -- \
  "$NM" train "${TINY[@]}" --p-unit "u A" --out "$D/bad.nmap"
no_file "$D/bad.nmap"

"$NM" train "${TINY[@]}" --p-name VS --p-unit mV --out "$D/m.nmap" || exit 1
"$NM" info "$D/m.nmap" >"$D/info.txt" 2>&1 || fail "info: $(cat "$D/info.txt")"
grep -qF "p name VS, unit mV; trained at -38..-34.5; default p -36.25 (the centre of the training range)" \
  "$D/info.txt" || fail "info does not show the p label and default: $(grep -A1 Control "$D/info.txt")"
grep -qE '^  meta\.p_name +str +2  "VS"' "$D/info.txt" || fail "info lists no meta.p_name entry"
grep -qE '^  meta\.p_unit +str +2  "mV"' "$D/info.txt" || fail "info lists no meta.p_unit entry"
# Python through ctypes: not with a sanitizer build of the library (the
# sanitizer runtime must come first in the process, and python3 has none).
if ldd "$NM" | grep -qE 'lib(a|t)san'; then
  echo "test_p_label: Python check skipped (sanitizer build)"
else
  got=$(PYTHONPATH="$PYDIR" NEUROMAP_LIB="$(dirname "$NM")/../lib/libneuromap.so" "$PY" -c '
import sys
from neuromap import runtime
m = runtime.LearnedModel(sys.argv[1])
print(m.p_name, m.p_unit, m.p_default)' "$D/m.nmap" 2>&1)
  [ "$got" = "VS mV -36.25" ] || fail "LearnedModel p_name, p_unit, p_default: '$got'"
fi

# Defaults: "p" and no unit.
"$NM" train "${TINY[@]}" --out "$D/m0.nmap" || exit 1
"$NM" info "$D/m0.nmap" | grep -qF "p name p, unit (none);" || fail "default p label not shown"

# edit.py SRC DST [NAME=TEXT | -NAME]...: set a str entry or remove an
# entry; CRC recomputed.
cat >"$D/edit.py" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
count, pos, ents = struct.unpack_from("<I", data, 7)[0], 11, []
for _ in range(count):
    nl = data[pos]; name = data[pos + 1:pos + 1 + nl].decode(); pos += 1 + nl
    code = data[pos]; n, nb = struct.unpack_from("<QQ", data, pos + 1); pos += 17
    ents.append([name, code, n, data[pos:pos + nb]]); pos += nb
for op in sys.argv[3:]:
    if op.startswith("-"):
        ents = [e for e in ents if e[0] != op[1:]]
        continue
    name, val = op.split("=", 1)
    raw = val.encode()
    for e in ents:
        if e[0] == name:
            e[1:] = [6, len(raw), raw]
out = bytearray(b"NMAP\x1a\x01\x00") + struct.pack("<I", len(ents))
for name, code, n, payload in ents:
    out += bytes([len(name)]) + name.encode() + bytes([code]) + struct.pack("<QQ", n, len(payload)) + payload
open(sys.argv[2], "wb").write(bytes(out) + struct.pack("<I", zlib.crc32(out) & 0xFFFFFFFF))
EOF

# A file written before the entries existed: loads, shows the defaults.
"$PY" "$D/edit.py" "$D/m.nmap" "$D/old.nmap" -meta.p_name -meta.p_unit || exit 1
"$NM" info "$D/old.nmap" >"$D/info_old.txt" 2>&1 || fail "info on a file without meta.p_name: $(cat "$D/info_old.txt")"
grep -qF "p name p, unit (none);" "$D/info_old.txt" || fail "old file: defaults not shown"
expect_ok "$NM" run "$D/old.nmap" --p -36 --duration 100 --out "$D/r_old.csv"

# Edited bad entries: info and run refuse them, naming the entry.
for edit in "meta.p_name=a b" "meta.p_name=" "meta.p_unit=u A"; do
  "$PY" "$D/edit.py" "$D/m.nmap" "$D/bad.nmap" "$edit" || { fail "edit.py $edit"; continue; }
  entry="${edit%%=*}"
  expect_fail 1 "bad.nmap: entry '$entry'" -- "$NM" info "$D/bad.nmap"
  expect_fail 1 "bad.nmap: entry '$entry'" -- "$NM" run "$D/bad.nmap" --p -36 --duration 100 --out "$D/r_bad.csv"
done
no_file "$D/r_bad.csv"

finish test_p_label
