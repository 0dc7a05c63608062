#!/usr/bin/python3
"""The numpy model-file reader (python/neuromap/modelfile.py) against files
written by the C library.

Usage: test_modelfile_py.py SCRATCH_DIR [--lib LIBNEUROMAP.so] [MODEL.nmap ...]

* the golden 76-byte file of docs/model-format.md (the C writer is checked
  against exactly these bytes in tests/unit/test_modelfile.c);
* with --lib: a file written through libneuromap (ctypes: nm_mf_add_* and
  nm_mf_write) holding every type with extreme values, read back exactly,
  and every corrupt file below is also refused by the C loader
  (nm_mf_decode) with the same key words; skipped (with a note) when the
  library cannot be loaded into this interpreter (a sanitizer build);
* every MODEL given (e.g. written by `neuromap train`): it reads, the
  entries a learned model needs are there with consistent sizes;
* corruption: every kind the C loader refuses is refused with ValueError and
  a message naming the file (and entry), in the same order of checks;
* with --lib: the library's one validation of a model's contents through
  Python (read_model(validate=True), runtime.validate_model): a container
  that is no model is refused; every MODEL passes, and edits of it with the
  checksum recomputed (map.dt_ms, norm.v_mean, embed.de, map.D) are refused
  with exactly the message LearnedModel (nm_learned_load, what `run` and
  the NEURON cells use) gives.
Exit status 0 when every check passes.
"""

import ctypes
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import numpy as np  # noqa: E402

from neuromap.modelfile import decode_model, read_model  # noqa: E402

GOLDEN = bytes.fromhex(  # docs/model-format.md, "Example", line by line
    "4E 4D 41 50 1A 01 00 02 00 00 00"
    "01 61 01 02 00 00 00 00 00 00 00 08 00 00 00 00 00 00 00"
    "01 00 00 00 FE FF FF FF"
    "08 6E 6F 72 6D 2E 73 74 64 05"
    "01 00 00 00 00 00 00 00 08 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 F8 3F"
    "ED 80 7B 45"
)

failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}")


# libneuromap through ctypes, when it can be loaded (see load_lib)
C_LIB = None


def c_decode_error(data, label):
    """The C loader's message for these bytes ('' if it accepts them)."""
    out = ctypes.c_void_p()
    st = C_LIB.nm_mf_decode(data, len(data), label.encode(), ctypes.byref(out))
    if st == 0:
        C_LIB.nm_mf_free(out)
        return ""
    return C_LIB.nm_last_error().decode()


def expect_error(data, needle, what, label="bad.nmap"):
    """Python refuses data with a message naming label and holding needle;
    so does the C loader (same needle), when it is loaded."""
    global failures, checks
    checks += 1
    try:
        decode_model(data, label=label)
        failures += 1
        print(f"FAIL: {what}: no error")
    except ValueError as e:
        msg = str(e)
        if needle not in msg or not msg.startswith(label):
            failures += 1
            print(f"FAIL: {what}: message '{msg}' lacks '{needle}' or the file name")
    if C_LIB is not None:
        checks += 1
        cmsg = c_decode_error(data, label)
        if not cmsg or needle not in cmsg:
            failures += 1
            print(f"FAIL: {what}: the C loader says '{cmsg}', expected '{needle}'")


def load_lib(lib_path):
    global C_LIB
    try:
        lib = ctypes.CDLL(lib_path)
    except OSError as e:
        print(f"note: cannot load {lib_path} into this interpreter ({e}); "
              "skipping the C cross-checks")
        return None
    lib.nm_mf_alloc.restype = ctypes.c_void_p
    lib.nm_mf_free.argtypes = [ctypes.c_void_p]
    lib.nm_mf_write.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nm_mf_decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                 ctypes.POINTER(ctypes.c_void_p)]
    lib.nm_last_error.restype = ctypes.c_char_p
    C_LIB = lib
    return lib


def encode(entries, major=1, minor=0, fix_crc=True):
    """A minimal independent encoder for corrupt-on-purpose files:
    entries = [(name bytes, code, n, payload bytes)]."""
    out = bytearray(b"NMAP\x1a" + bytes([major, minor]) + struct.pack("<I", len(entries)))
    for name, code, n, payload in entries:
        out += bytes([len(name)]) + name + bytes([code]) + struct.pack("<QQ", n, len(payload)) + payload
    crc = zlib.crc32(bytes(out)) & 0xFFFFFFFF
    out += struct.pack("<I", crc if fix_crc else crc ^ 1)
    return bytes(out)


def test_golden(scratch):
    path = os.path.join(scratch, "golden.nmap")
    with open(path, "wb") as f:
        f.write(GOLDEN)
    e = read_model(path)
    check(list(e) == ["a", "norm.std"], "golden: names in file order")
    check(e["a"].dtype == np.dtype("<i4") and e["a"].tolist() == [1, -2], "golden: a = i32[1, -2]")
    check(e["norm.std"].dtype == np.dtype("<f8") and e["norm.std"].tolist() == [1.5], "golden: norm.std")
    check(zlib.crc32(b"123456789") == 0xCBF43926, "CRC-32 check value")


def test_c_written(scratch, lib):
    """Write every type through libneuromap, read it back with numpy."""
    adders = {
        "i32": (lib.nm_mf_add_i32, ctypes.c_int32, np.int32),
        "i64": (lib.nm_mf_add_i64, ctypes.c_int64, np.int64),
        "u64": (lib.nm_mf_add_u64, ctypes.c_uint64, np.uint64),
        "f32": (lib.nm_mf_add_f32, ctypes.c_float, np.float32),
        "f64": (lib.nm_mf_add_f64, ctypes.c_double, np.float64),
    }
    values = {
        "t.i32": ("i32", [0, 1, -1, 2**31 - 1, -(2**31)]),
        "t.i64": ("i64", [2**63 - 1, -(2**63), 12345678901234]),
        "t.u64": ("u64", [0, 2**64 - 1, 2**63]),
        "t.f32": ("f32", [0.0, -1.5, 3.4028234663852886e38, 1.401298464324817e-45]),
        "t.f64": ("f64", [np.pi, -0.0, 1.7976931348623157e308, 5e-324]),
        "t.empty": ("f64", []),
    }
    mf = lib.nm_mf_alloc()
    check(bool(mf), "nm_mf_alloc")
    for name, (t, vals) in values.items():
        fn, ctype, _ = adders[t]
        fn.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctype), ctypes.c_size_t]
        arr = (ctype * max(1, len(vals)))(*vals)
        st = fn(mf, name.encode(), arr, len(vals))
        check(st == 0, f"C add {name}: {lib.nm_last_error()}")
    lib.nm_mf_add_str.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    text = "VS in mV, tau\u209b = 5 s"
    check(lib.nm_mf_add_str(mf, b"meta.note", text.encode("utf-8")) == 0, "C add str")
    path = os.path.join(scratch, "from_c.nmap")
    check(lib.nm_mf_write(mf, path.encode()) == 0, f"C write: {lib.nm_last_error()}")
    lib.nm_mf_free(mf)
    e = read_model(path)
    check(list(e) == list(values) + ["meta.note"], "C-written: names in file order")
    for name, (t, vals) in values.items():
        dtype = adders[t][2]
        expect = np.array(vals, dtype=dtype)
        got = e[name]
        check(got.dtype == np.dtype(dtype).newbyteorder("<") and got.shape == expect.shape,
              f"C-written {name}: dtype/shape {got.dtype}{got.shape}")
        check(np.array_equal(got.view(np.uint8), expect.astype(np.dtype(dtype).newbyteorder("<")).view(np.uint8)),
              f"C-written {name}: bit-exact values")
    check(e["meta.note"] == text, "C-written str round trip (UTF-8)")


def test_model(path):
    """A model written by `neuromap train`: it reads and is self-consistent."""
    e = read_model(path)
    for name in ("norm.v_mean", "norm.v_std", "vae.D", "vae.dec.params", "map.D", "map.params",
                 "map.dt_ms", "map.threshold_mv", "map.x0", "meta.train_p"):
        check(name in e, f"{path}: has {name}")
    if "map.D" in e and "map.x0" in e:
        D = int(e["map.D"][0])
        check(e["map.x0"].size == D and int(e["vae.D"][0]) == D, f"{path}: map.x0 and vae.D match map.D = {D}")
    if "map.sizes" in e and "map.params" in e:
        sizes = e["map.sizes"].astype(int)
        nparams = sum(int(a) * int(b) + int(b) for a, b in zip(sizes[:-1], sizes[1:]))
        members = int(e["map.members"][0]) if "map.members" in e else 1
        check(e["map.params"].size == members * nparams,
              f"{path}: map.params holds {members} x the weights of layers {sizes.tolist()}")
    check(e["meta.train_p"].dtype == np.dtype("<f8") and e["meta.train_p"].size >= 1, f"{path}: meta.train_p")
    check(float(e["map.dt_ms"][0]) > 0, f"{path}: map.dt_ms > 0")
    # Every corruption of a real model is caught; a flipped bit anywhere
    # before the trailer is at least a checksum error.
    with open(path, "rb") as f:
        data = f.read()
    for pos in (0, 5, 7, 11, len(data) // 3, len(data) // 2, len(data) - 5, len(data) - 1):
        bad = bytearray(data)
        bad[pos] ^= 0x10
        try:
            decode_model(bytes(bad), label=path)
            check(False, f"{path}: bit flip at byte {pos} not detected")
        except ValueError:
            check(True, "")
    expect_error(data[: len(data) // 2], "truncated", f"{path} cut in half", label=path)


def test_corruption():
    good = encode([(b"a", 1, 2, struct.pack("<ii", 1, -2)), (b"norm.std", 5, 1, struct.pack("<d", 1.5))])
    check(good == GOLDEN, "the test encoder reproduces the golden bytes")
    decode_model(good)  # sanity
    expect_error(b"", "empty file", "empty")
    expect_error(b"NMA", "truncated", "3 bytes of magic")
    expect_error(b"PK\x03\x04" + bytes(20), "not a neuromap model file", "zip file")
    expect_error(GOLDEN[:12], "truncated", "header only")
    expect_error(encode([], major=2), "format version 2.0 is not supported", "major 2")
    expect_error(encode([], major=0), "format version 0.0", "major 0")
    bad = bytearray(GOLDEN)
    bad[7:11] = struct.pack("<I", 4)  # 61 bytes hold at most 3 entries
    expect_error(bytes(bad), "entry count 4 is impossible", "count too large")
    bad[7:11] = struct.pack("<I", 70000)
    expect_error(bytes(bad), "impossible", "count over the limit")
    expect_error(GOLDEN[:-10] + GOLDEN[-4:], "truncated in entry 'norm.std'", "cut payload")
    expect_error(GOLDEN[:-4] + b"\x00" + GOLDEN[-4:], "trailing bytes", "a trailing byte")
    bad = bytearray(GOLDEN)
    bad[-1] ^= 0xFF
    expect_error(bytes(bad), "checksum mismatch", "bad CRC")
    bad = bytearray(GOLDEN)
    bad[30] ^= 0x01  # inside the payload of 'a'
    expect_error(bytes(bad), "checksum mismatch", "flipped payload bit")
    expect_error(encode([(b"", 1, 0, b"x")]), "empty name", "empty name")
    expect_error(encode([(b"a b", 1, 0, b"")]), "invalid byte 0x20", "space in a name")
    expect_error(encode([(b"x", 9, 1, b"\x00")]), "entry 'x' has unknown type code 9", "unknown type")
    # a newer minor version: unknown types are skipped, the rest is read
    newer = decode_model(encode([(b"x", 9, 1, b"\x00"), (b"y", 1, 1, struct.pack("<i", 7))], minor=1))
    check(list(newer) == ["y"] and newer["y"].tolist() == [7], "newer minor: unknown type skipped")
    expect_error(encode([(b"x", 5, 2, struct.pack("<d", 1.0))]), "do not hold 2 f64 elements", "n vs nbytes")
    expect_error(encode([(b"x", 4, 1, b"\x00\x00\x00")]), "do not hold", "ragged f32 payload")
    expect_error(encode([(b"x", 5, 1, struct.pack("<d", float("nan")))]), "entry 'x': element 0 is not finite",
                 "NaN")
    expect_error(encode([(b"x", 4, 2, struct.pack("<ff", 1.0, float("inf")))]), "element 1 is not finite", "Inf")
    expect_error(encode([(b"s", 6, 3, b"a\x00b")]), "NUL byte at offset 1", "NUL in str")
    expect_error(encode([(b"d", 1, 0, b""), (b"d", 1, 0, b"")]), "duplicate entry 'd'", "duplicate")
    # checks come in the C loader's order: structure before CRC before content
    expect_error(encode([(b"x", 5, 1, struct.pack("<d", float("nan")))], fix_crc=False), "checksum",
                 "CRC is checked before values")


def edit_first(data, name, value):
    """The bytes of a model file with the first element of entry `name` set
    to `value`, the CRC recomputed."""
    fmts = {1: "<i", 2: "<q", 3: "<Q", 4: "<f", 5: "<d"}
    out = bytearray(data)
    (count,) = struct.unpack_from("<I", data, 7)
    pos = 11
    for _ in range(count):
        nl = data[pos]
        ename = data[pos + 1:pos + 1 + nl].decode()
        pos += 1 + nl
        code = data[pos]
        (nbytes,) = struct.unpack_from("<Q", data, pos + 9)
        pos += 17
        if ename == name:
            struct.pack_into(fmts[code], out, pos, value)
        pos += nbytes
    struct.pack_into("<I", out, len(out) - 4, zlib.crc32(bytes(out[:-4])) & 0xFFFFFFFF)
    return bytes(out)


def test_validation(scratch, lib_path, models):
    """The one validation (nm_mf_check_file) from Python agrees with the
    loader (nm_learned_load): same verdict, same message."""
    os.environ["NEUROMAP_LIB"] = os.path.abspath(lib_path)
    from neuromap import runtime

    golden = os.path.join(scratch, "golden.nmap")
    try:
        read_model(golden, validate=True)
        check(False, "validate: a container without a model is refused")
    except ValueError as e:
        check("golden.nmap" in str(e) and "embed.de" in str(e), f"validate golden: message '{e}'")
    for model in models:
        check(runtime.validate_model(model) == "learned", f"{model}: validate_model says learned")
        check("map.D" in read_model(model, validate=True), f"{model}: read_model(validate=True)")
        with open(model, "rb") as f:
            data = f.read()
        edits = (("map.dt_ms", 1.0, "map.dt_ms = 1 ms but"), ("norm.v_mean", 1.7e308, "'norm.v_mean' = 1.7e+308"),
                 ("embed.de", 1 << 20, "'embed.de' = 1048576"), ("map.D", 2, "map.D = 2"))
        for name, value, needle in edits:
            bad = os.path.join(scratch, "edited.nmap")
            with open(bad, "wb") as f:
                f.write(edit_first(data, name, value))
            decode_model(open(bad, "rb").read())  # a valid container: only the content is wrong
            msg_v = msg_l = ""
            try:
                read_model(bad, validate=True)
            except ValueError as e:
                msg_v = str(e)
            try:
                runtime.LearnedModel(bad).close()
            except runtime.NeuromapError as e:
                msg_l = str(e)
            check(needle in msg_v and "edited.nmap" in msg_v, f"{name} = {value}: validate says '{msg_v}'")
            check(msg_v == msg_l, f"{name} = {value}: validate says '{msg_v}', LearnedModel says '{msg_l}'")


def main(argv):
    args = list(argv[1:])
    if not args:
        print(__doc__)
        return 2
    scratch = args.pop(0)
    os.makedirs(scratch, exist_ok=True)
    lib = None
    if args[:1] == ["--lib"]:
        lib = args[1]
        args = args[2:]
    clib = load_lib(lib) if lib else None
    test_golden(scratch)
    test_corruption()
    if clib:
        test_c_written(scratch, clib)
    for model in args:
        test_model(model)
    if clib:
        test_validation(scratch, lib, args)
    try:
        read_model(os.path.join(scratch, "no-such.nmap"))
        check(False, "missing file raises")
    except OSError as e:
        check("no-such.nmap" in str(e), "missing file: message names it")
    try:
        read_model(scratch)
        check(False, "a directory raises")
    except ValueError as e:
        check("not a regular file" in str(e), "directory: message")
    print(f"test_modelfile_py: {checks} checks, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
