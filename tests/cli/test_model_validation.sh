#!/usr/bin/env bash
# Issue 13 items 8-10: `info` and `run` apply the one validation of a model
# file (nm_mf_validate).  Model files edited with the checksum recomputed
# (so only the content checks can catch them) are refused by both, with exit
# 1 and the same message; the unmodified model passes both.
# Usage: test_model_validation.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1

"$NM" simulate --model srk --p -38 --duration 20000 --out "$D/a.csv" || exit 1
"$NM" simulate --model srk --p -34.5 --duration 20000 --out "$D/b.csv" || exit 1
"$NM" train --series "$D/a.csv" --p -38 --series "$D/b.csv" --p -34.5 --de 32 --latent 3 --vae-epochs 3 \
  --hidden 16,16 --map-hidden 16,16 --map-epochs 2 --rollout 5 --rollout-iters 5 --ensemble 2 --no-auto --quiet \
  --out "$D/m.nmap" || exit 1

# edit.py SRC DST OP...: OP is NAME=VALUE (first element), -NAME (remove the
# entry) or -SECTION. (remove every entry of the section); CRC recomputed.
cat >"$D/edit.py" <<'EOF'
import struct, sys, zlib
FMT = {1: "<i", 2: "<q", 3: "<Q", 4: "<f", 5: "<d"}
data = open(sys.argv[1], "rb").read()
count, pos, ents = struct.unpack_from("<I", data, 7)[0], 11, []
for _ in range(count):
    nl = data[pos]; name = data[pos + 1:pos + 1 + nl].decode(); pos += 1 + nl
    code = data[pos]; n, nb = struct.unpack_from("<QQ", data, pos + 1); pos += 17
    ents.append([name, code, n, bytearray(data[pos:pos + nb])]); pos += nb
for op in sys.argv[3:]:
    if op.startswith("-"):
        key = op[1:]
        ents = [e for e in ents if not (e[0] == key or (key.endswith(".") and e[0].startswith(key)))]
        continue
    name, val = op.split("=")
    e = next(e for e in ents if e[0] == name)
    f = FMT[e[1]]
    e[3][:struct.calcsize(f)] = struct.pack(f, int(val) if f in ("<i", "<q", "<Q") else float(val))
out = bytearray(b"NMAP\x1a\x01\x00") + struct.pack("<I", len(ents))
for name, code, n, payload in ents:
    out += bytes([len(name)]) + name.encode() + bytes([code]) + struct.pack("<QQ", n, len(payload)) + payload
open(sys.argv[2], "wb").write(bytes(out) + struct.pack("<I", zlib.crc32(out) & 0xFFFFFFFF))
EOF

# The unmodified model: both accept it; the editor itself changes nothing.
"$PY" "$D/edit.py" "$D/m.nmap" "$D/same.nmap" || exit 1
cmp -s "$D/m.nmap" "$D/same.nmap" || fail "edit.py does not reproduce the file"
"$NM" info "$D/m.nmap" >"$D/info.txt" 2>&1 || fail "info on the trained model: $(cat "$D/info.txt")"
grep -q "Valid learned model" "$D/info.txt" || fail "info does not say the model is valid"
expect_ok "$NM" run "$D/m.nmap" --p -38 --duration 200 --out "$D/r.csv"

# refused EDIT NEEDLE: info and run both exit 1, say NEEDLE, with one message.
refused() {
  local edit="$1" needle="$2" f="$D/bad.nmap" ei er
  "$PY" "$D/edit.py" "$D/m.nmap" "$f" "$edit" || { fail "edit.py $edit"; return; }
  expect_fail 1 "$needle" -- "$NM" info "$f"
  expect_fail 1 "$needle" -- "$NM" run "$f" --p -38 --duration 200 --out "$D/r_bad.csv"
  ei=$("$NM" info "$f" 2>&1 >/dev/null | sed 's/^neuromap info: //')
  er=$("$NM" run "$f" --p -38 --duration 200 --out "$D/r_bad.csv" 2>&1 >/dev/null | sed 's/^neuromap run: //')
  [ "$ei" = "$er" ] || fail "$edit: info says '$ei', run says '$er'"
  no_file "$D/r_bad.csv"
}
refused "embed.de=1048576" "bad.nmap: entry 'embed.de' = 1048576 is out of range [1, 512]"
refused "vae.hidden=100000" "entry 'vae.hidden': width 100000 out of range [1, 512]"
refused "map.dt_ms=1" "map.dt_ms = 1 ms but the VAE's samples are embed.dt_ms = 5 ms apart"
refused "embed.dt_ms=1" "map.dt_ms = 5 ms but the VAE's samples are embed.dt_ms = 1 ms apart"
refused "norm.v_mean=1.7e308" "entry 'norm.v_mean' = 1.7e+308 is out of range [-10000, 10000]"
refused "norm.v_std=0" "entry 'norm.v_std' = 0 is out of range"
refused "map.threshold_mv=1e300" "entry 'map.threshold_mv' = 1e+300 is out of range"
refused "-map.params" "no entry 'map.params'"
refused "map.D=2" "map.D = 2 but the VAE's latent dimension vae.D is 3"
refused "vae.D=2" "entry 'vae.enc.sizes'"
refused "map.members=1" "entry 'map.params' has"
refused "map.p_half=1e-300" "outside the map's training range"
refused "meta.train_p=100" "meta.train_p[0] = 100 is outside"
refused "-vae.losses" "no entry 'vae.losses'"

# An autoencoder without a map: `info` lists and accepts it (it is what
# train-vae writes and encode reads), `run` refuses it.
"$PY" "$D/edit.py" "$D/m.nmap" "$D/vae.nmap" "-map." "-meta." || exit 1
"$NM" info "$D/vae.nmap" >"$D/info_vae.txt" 2>&1 || fail "info on an autoencoder: $(cat "$D/info_vae.txt")"
grep -q "\`run\` needs a map" "$D/info_vae.txt" || fail "info does not say run needs a map: $(cat "$D/info_vae.txt")"
expect_fail 1 "vae.nmap: it holds a VAE but no map" -- "$NM" run "$D/vae.nmap" --p -38 --duration 200 --out "$D/r_bad.csv"

# encode and train --vae read the autoencoder through the same validation:
# a checksum-correct file with embed.de = 1048576 is refused before any
# allocation from it (issue 13 item 8).
"$PY" "$D/edit.py" "$D/m.nmap" "$D/big_de.nmap" "embed.de=1048576" || exit 1
expect_fail 1 "embed.de" -- "$NM" encode "$D/big_de.nmap" "$D/a.csv" --out "$D/mu_bad.csv"
expect_fail 1 "embed.de" -- "$NM" train --series "$D/a.csv" --p -38 --vae "$D/big_de.nmap" --out "$D/m_bad.nmap"
no_file "$D/mu_bad.csv"
no_file "$D/m_bad.nmap"

finish "model validation (info and run)"
