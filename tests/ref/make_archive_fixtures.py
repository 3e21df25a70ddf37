#!/usr/bin/python3
"""Writes the archive fixtures under tests/data/archive/ used by
tests/test_archive.c.

    /usr/bin/python3 tests/ref/make_archive_fixtures.py tests/data/archive

An independent writer of the format of docs/formats-archive.md (struct and
zlib.crc32 only; no nabla code), so that the C reader is checked against the
document rather than against itself, and the C writer must reproduce
golden-v1.nbar byte for byte.  The files are committed; never run by the
test suite.
"""
import os
import struct
import sys
import zlib

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/archive"
os.makedirs(out, exist_ok=True)


def u64(v):
    return struct.pack("<Q", v)


def blob(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return u64(len(b)) + b


def archive(strings, tensors, version=1, magic=b"NABLAARC", raw_shapes=None):
    """strings: [(key, value)]; tensors: [(name, rows, cols, [values])].
    raw_shapes overrides (rows, cols) written for tensor i (forged files)."""
    body = u64(version) + u64(len(strings)) + u64(len(tensors))
    for k, v in strings:
        body += blob(k) + blob(v)
    for i, (name, rows, cols, values) in enumerate(tensors):
        assert len(values) == rows * cols
        r, c = (raw_shapes or {}).get(i, (rows, cols))
        body += blob(name) + u64(r) + u64(c)
        body += b"".join(struct.pack("<d", x) for x in values)
    return magic + body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


GOLDEN_STRINGS = [("kind", "nabla-test"), ("note", "2.385 \u03c9"), ("empty", "")]
GOLDEN_TENSORS = [
    ("w", 2, 3, [2.385, -1.25, 0.5, 3.75, -0.125, 1.5]),
    ("b", 1, 3, [0.25, -0.0, 5e-324]),
    ("empty", 0, 3, []),
    ("s", 1, 1, [1.7976931348623157e308]),
]

# A valid archive; test_archive.c checks every value and that nabla writes
# the same bytes for the same content.
write("golden-v1.nbar", archive(GOLDEN_STRINGS, GOLDEN_TENSORS))

# The same content claiming format version 2 (CRC computed over the forged
# bytes: the version must be refused before the checksum is looked at).
write("version-2.nbar", archive(GOLDEN_STRINGS, GOLDEN_TENSORS, version=2))

# Magic of another format.
write("bad-magic.nbar", archive(GOLDEN_STRINGS, GOLDEN_TENSORS, magic=b"NABLAARX"))

# A tensor header claiming 2^60 rows of 1 column, with a valid CRC: must be
# refused by comparing with the file size, not by a failed 8 EiB malloc.
write("huge-rows.nbar", archive([], [("w", 1, 1, [2.385])], raw_shapes={0: (1 << 60, 1)}))

# NaN in the data (valid CRC): NB_EDOMAIN.
write("nan-value.nbar", archive([("kind", "nabla-test")],
                                [("w", 2, 2, [2.385, 1.0, float("nan"), -3.5])]))
