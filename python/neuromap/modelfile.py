"""Read a neuromap model file (``.nmap``, format 1.x) with numpy.

The format is documented in docs/model-format.md; this reader applies the same
checks as the C loader (src/io/modelfile.c) in the same order, so a file that
one refuses the other refuses too, with a message that names the file and,
where it applies, the entry:

1. a regular file of at most 1 GiB, not empty;
2. the magic ``NMAP\\x1a``, at least 15 bytes, major version 1;
3. the entry count against the bytes that remain (each entry needs at least
   19) and against 65536;
4. per entry: the name (1..255 characters from ``[A-Za-z0-9_.-]``), every
   length against the bytes left before the trailer, the type code, and
   ``nbytes == n * size(type)``;
5. no trailing bytes between the last entry and the trailer;
6. the CRC-32 (zlib's) of everything before the trailer;
7. unique names, no NaN/Inf in f32/f64 entries, no NUL in str entries.

Every problem raises ``ValueError``.  Usage::

    from neuromap.modelfile import read_model
    entries = read_model("srk.nmap")     # dict: name -> numpy array or str
    entries["meta.train_p"]              # array([-42., -38., ...])

These are the checks of the container.  What the entries mean (sizes against
each other, time steps, parameter counts, value ranges) is checked by the
library's one validation, the same for ``neuromap info``, ``run``, the NEURON
cells and Python: ``read_model(path, validate=True)`` calls it through ctypes
(``neuromap.runtime.validate_model``; needs libneuromap) and raises
``ValueError`` with the message ``neuromap run`` would print.

Standalone (without ``validate``): needs only numpy and the standard library.
"""

import os
import re
import struct
import zlib

import numpy as np

__all__ = ["read_model", "decode_model", "VERSION_MAJOR", "VERSION_MINOR", "TYPE_NAMES"]

VERSION_MAJOR = 1
VERSION_MINOR = 0  # NM_MF_VERSION_MINOR of this reader

MAGIC = b"NMAP\x1a"
HEADER_BYTES = 11
TRAILER_BYTES = 4
MIN_ENTRY_BYTES = 19  # 1-character name, empty payload
MAX_ENTRIES = 65536
MAX_FILE_BYTES = 1 << 30
NAME_RE = re.compile(rb"[A-Za-z0-9_.\-]{1,255}\Z")

# type code -> (name, numpy dtype or None for text, element size)
TYPES = {
    1: ("i32", "<i4", 4),
    2: ("i64", "<i8", 8),
    3: ("u64", "<u8", 8),
    4: ("f32", "<f4", 4),
    5: ("f64", "<f8", 8),
    6: ("str", None, 1),
}
TYPE_NAMES = {code: t[0] for code, t in TYPES.items()}


def read_model(path, validate=False):
    """Read and validate the model file at ``path``.

    Returns a dict (in file order) mapping each entry name to a read-only
    1-D numpy array (i32/i64/u64/f32/f64, little-endian dtypes) or a ``str``.
    Raises ``ValueError`` for anything malformed, ``OSError`` if the file
    cannot be read.  With ``validate=True`` the contents must also pass the
    library's validation of a learned model or autoencoder (see the module
    doc); its message becomes the ``ValueError``'s.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise OSError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: not a regular file")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: {size} bytes is larger than the 1 GiB limit of a model file")
    with open(path, "rb") as f:
        data = f.read()
    entries = decode_model(data, label=path)
    if validate:
        from .runtime import NeuromapError, validate_model

        try:
            validate_model(path)
        except NeuromapError as e:
            raise ValueError(str(e)) from None
    return entries


def decode_model(data, label="<memory>"):
    """Validate and decode the bytes of a model file (see ``read_model``)."""
    data = bytes(data)
    size = len(data)
    if size == 0:
        raise ValueError(f"{label}: empty file")
    if data[: len(MAGIC)] != MAGIC[: min(size, len(MAGIC))]:
        raise ValueError(f"{label}: not a neuromap model file (bad magic number)")
    if size < HEADER_BYTES + TRAILER_BYTES:
        raise ValueError(f"{label}: truncated ({size} bytes; a model file has at least 15)")
    major, minor = data[5], data[6]
    if major != VERSION_MAJOR:
        raise ValueError(
            f"{label}: format version {major}.{minor} is not supported "
            f"(this reader reads {VERSION_MAJOR}.x)"
        )
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{label}: {size} bytes is larger than any model file")
    (count,) = struct.unpack_from("<I", data, 7)
    end = size - TRAILER_BYTES
    left = end - HEADER_BYTES
    if count > MAX_ENTRIES or count > left // MIN_ENTRY_BYTES:
        raise ValueError(
            f"{label}: entry count {count} is impossible "
            f"({left} bytes hold at most {left // MIN_ENTRY_BYTES} entries)"
        )

    pos = HEADER_BYTES

    def take(nbytes, where):
        nonlocal pos
        if nbytes > end - pos:
            raise ValueError(
                f"{label}: truncated in {where} (needs {nbytes} bytes, {end - pos} remain)"
            )
        chunk = data[pos : pos + nbytes]
        pos += nbytes
        return chunk

    # 1. structure, in file order
    raw = []  # (name, code, n, payload)
    for index in range(count):
        where = f"entry #{index + 1}"
        namelen = take(1, where)[0]
        if namelen == 0:
            raise ValueError(f"{label}: entry #{index + 1} has an empty name")
        name_bytes = take(namelen, where)
        if not NAME_RE.match(name_bytes):
            bad = next(b for b in name_bytes if not NAME_RE.match(bytes([b])))
            raise ValueError(f"{label}: entry #{index + 1}: invalid byte 0x{bad:02X} in its name")
        name = name_bytes.decode("ascii")
        where = f"entry '{name}'"
        code = take(1, where)[0]
        (n,) = struct.unpack("<Q", take(8, where))
        (nbytes,) = struct.unpack("<Q", take(8, where))
        payload = take(nbytes, where)
        if code not in TYPES:
            # A newer minor version may add types; every entry carries its
            # byte length, so unknown ones are skipped (like the C reader).
            # Within our own version an unknown type can only be corruption.
            if minor > VERSION_MINOR:
                continue
            raise ValueError(f"{label}: {where} has unknown type code {code}")
        tname, _, elem = TYPES[code]
        if nbytes % elem != 0 or n != nbytes // elem:
            raise ValueError(
                f"{label}: {where}: {nbytes} payload bytes do not hold {n} {tname} elements"
            )
        raw.append((name, code, n, payload))
    # 2. nothing between the last entry and the trailer, 3. the checksum
    if pos != end:
        raise ValueError(f"{label}: {end - pos} trailing bytes after the last entry")
    (stored,) = struct.unpack_from("<I", data, end)
    computed = zlib.crc32(data[:end]) & 0xFFFFFFFF
    if stored != computed:
        raise ValueError(
            f"{label}: checksum mismatch (stored 0x{stored:08X}, computed 0x{computed:08X}): "
            "the file is corrupted"
        )
    # 4. content: unique names, then values
    seen = set()
    for name, _, _, _ in raw:
        if name in seen:
            raise ValueError(f"{label}: duplicate entry '{name}'")
        seen.add(name)
    entries = {}
    for name, code, n, payload in raw:
        tname, dtype, _ = TYPES[code]
        if dtype is None:
            if b"\x00" in payload:
                raise ValueError(
                    f"{label}: entry '{name}': NUL byte at offset {payload.index(0)} of the text"
                )
            entries[name] = payload.decode("utf-8", errors="replace")
            continue
        arr = np.frombuffer(payload, dtype=dtype, count=n)
        if tname in ("f32", "f64"):
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                raise ValueError(
                    f"{label}: entry '{name}': element {bad[0]} is not finite ({arr[bad[0]]})"
                )
        entries[name] = arr
    return entries


def _main(argv=None):
    """``python3 -m neuromap.modelfile FILE``: list the entries."""
    import argparse

    ap = argparse.ArgumentParser(prog="python3 -m neuromap.modelfile", description=__doc__.split("\n")[0])
    ap.add_argument("file")
    args = ap.parse_args(argv)
    try:
        entries = read_model(args.file)
    except (ValueError, OSError) as e:
        print(f"error: {e}")
        return 1
    for name, value in entries.items():
        if isinstance(value, str):
            print(f"{name:32s} str[{len(value)}]  {value[:60]!r}")
        else:
            head = ", ".join(f"{x:.6g}" if value.dtype.kind == "f" else str(x) for x in value[:4])
            more = ", ..." if value.size > 4 else ""
            print(f"{name:32s} {value.dtype.name}[{value.size}]  [{head}{more}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
