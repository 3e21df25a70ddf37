#!/usr/bin/python3
"""Writes the small input files under tests/data/ used by tests/test_data.c.

    /usr/bin/python3 tests/ref/make_fixtures.py tests/data

The files are committed; this script documents how each one was made and
regenerates them byte for byte (gzip members carry mtime 0).  Never run by
the test suite.
"""
import gzip
import io
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
os.makedirs(out, exist_ok=True)


def write(name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as g:
        g.write(data)
    return buf.getvalue()


def idx(type_byte, dims, payload):
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(
        struct.pack(">I", d) for d in dims) + payload


# ---- IDX ----------------------------------------------------------------
# 3 images of 2x3 pixels and their labels (classes 2, 0, 7 -> n_classes 8).
images = bytes([0, 17, 255, 128, 3, 64,
                200, 1, 2, 99, 254, 31,
                7, 77, 177, 250, 0, 12])
tiny_images = idx(0x08, [3, 2, 3], images)
tiny_labels = idx(0x08, [3], bytes([2, 0, 7]))
write("tiny-images-idx3-ubyte", tiny_images)
write("tiny-labels-idx1-ubyte", tiny_labels)
write("tiny-images-idx3-ubyte.gz", gz(tiny_images))
write("tiny-labels-idx1-ubyte.gz", gz(tiny_labels))

# Every IDX type, big-endian.
write("sbyte.idx", idx(0x09, [4], struct.pack(">4b", -128, -1, 0, 127)))
write("int16.idx", idx(0x0B, [2, 2], struct.pack(">4h", -32768, -1, 0, 32767)))
write("int32.idx", idx(0x0C, [3], struct.pack(">3i", -2147483648, -7, 123456789)))
write("float32.idx", idx(0x0D, [2, 2], struct.pack(">4f", 1.5, -2.25, 0.375, 1e10)))
write("float64.idx", idx(0x0E, [3], struct.pack(">3d", -0.1, 2.385, 6.02214076e23)))

# Broken ones.
write("empty.idx", b"")
write("short-magic.idx", b"\x00\x00\x08")
write("bad-magic.idx", b"P5\n2 3\n255\n" + images[:6])
write("bad-type.idx", idx(0x07, [3], b"\x01\x02\x03"))
write("zero-ndims.idx", bytes([0, 0, 8, 0]))
write("too-many-dims.idx", idx(0x08, [1] * 9, b"\x05"))
write("zero-dim.idx", idx(0x08, [0, 28], b""))
write("truncated-header.idx", bytes([0, 0, 8, 3]) + struct.pack(">I", 3) + b"\x00\x02")
write("truncated.idx", idx(0x08, [3, 2, 3], images[:10]))
write("trailing.idx", idx(0x08, [3], b"\x01\x02\x03") + b"\xff\xfe")
# 65536^3 = 2^48 values: more than the 2^31 cap.
write("absurd-dims.idx", idx(0x08, [65536, 65536, 65536], images))
# (2^32 - 1)^3 overflows 64 bits: the guard must not wrap.
write("overflow-dims.idx", idx(0x0E, [0xFFFFFFFF] * 3, images))
write("float32-nan.idx", idx(0x0D, [3], struct.pack(">3f", 1.0, 2.0, float("nan"))))
# Labels that do not fit the images.
write("labels-2-idx1-ubyte", idx(0x08, [2], bytes([1, 2])))
write("labels-2d-idx2-ubyte", idx(0x08, [3, 1], bytes([1, 2, 3])))
write("labels-300.idx", idx(0x0C, [3], struct.pack(">3i", 1, 300, 2)))
write("labels-negative.idx", idx(0x09, [3], struct.pack(">3b", 1, -1, 2)))
write("labels-fraction.idx", idx(0x0D, [3], struct.pack(">3f", 1.0, 2.5, 0.0)))
# gzip: a cut stream, a whole stream of a cut file, and junk after 1f 8b.
z = gz(tiny_images)
write("cut-stream.idx.gz", z[:len(z) - 12])
write("truncated.idx.gz", gz(idx(0x08, [3, 2, 3], images[:10])))
write("junk.gz", b"\x1f\x8b" + b"this is not deflate data at all")

# ---- CSV ----------------------------------------------------------------
write("iris-mini.csv",
      "sepal_length,sepal_width,\"petal, length\",species\n"
      "5.1,3.5,1.4,setosa\n"
      "7.0,3.2,4.7,versicolor\n"
      "6.3,3.3,6.0,virginica\n"
      "4.9,3.0,1.4,setosa\n"
      "6.4,3.2,4.5,versicolor\n")
# Integer labels in the middle column, CRLF, a byte-order mark, spaces,
# a quoted number, a blank line inside and blank lines at the end.
write("labels-crlf.csv",
      "\ufeffx1, label ,x2\r\n"
      "0.25,1,-2.5e-3\r\n"
      " 1.75 ,3, \"4\"\r\n"
      "\r\n"
      "-8,0,16\r\n"
      "\r\n"
      "   \r\n")
write("no-final-newline.csv", "a,b,y\n1.5,2.5,0\n3.5,4.5,1")
write("ragged.csv", "a,b,y\n1,2,0\n3,4,1\n5,1\n6,7,1\n")
write("nan.csv", "a,b,y\n1,2,0\n3,NaN,1\n")
write("inf.csv", "a,b,y\n1,-inf,0\n")
write("not-a-number.csv",
      "id,sepal,petal,y\n1,5.1,1.4,0\n2,4.9,1.4,0\n3,4.7,1.3,0\n"
      "4,4.6,abc,1\n")
write("empty.csv", "")
write("blank.csv", "\n  \r\n\n")
write("header-only.csv", "a,b,y\r\n")
write("empty-field.csv", "a,b,y\n1,,0\n")
write("unterminated-quote.csv", "a,\"b,y\n1,2,0\n")
write("negative-label.csv", "a,b,y\n1,2,0\n3,4,-1\n")
write("fraction-label.csv", "a,b,y\n1,2,0.5\n")
write("duplicate-column.csv", "y,b,y\n1,2,0\n")
write("only-label.csv", "y\n1\n0\n")
write("nul-byte.csv", b"a,b\n1,2\n3\x004\n")
