#!/usr/bin/env python3
"""Writes the seed corpus for tests/fuzz/fuzz_safetensors.cpp into tests/fuzz/corpus/ (pure Python, no numpy).

Valid files (valid_*) of a few F32/F64/I64 tensors, with and without __metadata__, with empty tensors and with
the CRC-32s write_safetensors adds; then near-misses (bad_*) that the reader must refuse.
tests/test_fuzz_regressions.cpp holds them to those names. Rerun after changing it: python3 tests/fuzz/make_corpus.py
"""
import json
import os
import struct
import zlib

FORMATS = {"F32": ("<f", 4), "F64": ("<d", 8), "I64": ("<q", 8)}  # struct format, bytes per element


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def pack(dtype, shape, start=0):
    """Little-endian bytes of a tensor of `shape` holding start*0.5, (start+1)*0.5, ... (or start-3, ... for I64)."""
    fmt, _ = FORMATS[dtype]
    n = numel(shape)
    values = [start + i - 3 for i in range(n)] if dtype == "I64" else [(start + i) * 0.5 for i in range(n)]
    return b"".join(struct.pack(fmt, v) for v in values)


def build(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape); returns (header dict, header bytes, data bytes)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for k, (name, dtype, shape) in enumerate(tensors):
        blob = pack(dtype, shape, start=k)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return header, text, data


def with_checksums(tensors, metadata=None):
    """A file as write_safetensors writes it: the data's CRC-32 and the header's (computed over the header with
    its own 8 digits as '0') in __metadata__ under swirl.data_crc32 and swirl.header_crc32."""
    _, _, data = build(tensors)
    meta = dict(metadata or {})
    meta["swirl.data_crc32"] = f"{zlib.crc32(data):08x}"
    meta["swirl.header_crc32"] = "00000000"
    _, text, data = build(tensors, metadata=dict(sorted(meta.items())))
    token = b'"swirl.header_crc32":"'
    at = text.index(token) + len(token)
    text = text[:at] + f"{zlib.crc32(text):08x}".encode() + text[at + 8:]
    return text, data


def file_bytes(header_text, data, length=None):
    return struct.pack("<Q", len(header_text) if length is None else length) + header_text + data


def raw(header, data, length=None):
    text = json.dumps(header, separators=(",", ":")).encode()
    return file_bytes(text, data, length)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    seeds = {}

    # Valid files.
    _, h, d = build([("w", "F32", [2, 3]), ("b", "F32", [3])])
    seeds["valid_f32"] = file_bytes(h, d)
    _, h, d = build([("x", "F64", [4]), ("step", "I64", []), ("idx", "I64", [2, 2])],
                    metadata={"format": "pt", "step": "1200"})
    seeds["valid_mixed_metadata"] = file_bytes(h, d)
    _, h, d = build([("empty", "F32", [0]), ("also_empty", "F64", [3, 0, 2]), ("v", "I64", [2])])
    seeds["valid_empty_tensors"] = file_bytes(h, d)
    _, h, d = build([("nothing", "F64", [0])], metadata={})
    seeds["valid_only_empty"] = file_bytes(h, d)
    _, h, d = build([], metadata={"note": "no tensors at all"})
    seeds["valid_metadata_only"] = file_bytes(h, d)
    seeds["valid_empty_header"] = file_bytes(b"{}", b"")
    _, h, d = build([("m", "F64", [2, 2, 2]), ("s", "F32", [1, 1, 1, 1])], pad=False)
    seeds["valid_unpadded"] = file_bytes(h, d)
    # Keys out of offset order in the header (the reader sorts by offset).
    a = struct.pack("<2f", 1.0, 2.0)
    b = struct.pack("<q", 7)
    seeds["valid_out_of_order"] = raw({"late": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]},
                                       "early": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, a + b)

    h, d = with_checksums([("w", "F32", [2, 2]), ("step", "I64", [])], metadata={"format": "pt"})
    seeds["valid_checksums"] = file_bytes(h, d)

    # Near-misses the reader must refuse.
    seeds["bad_data_checksum"] = file_bytes(h, d[:-1] + bytes([d[-1] ^ 1]))
    seeds["bad_header_checksum"] = file_bytes(h.replace(b'"format":"pt"', b'"format":"PT"'), d)
    seeds["bad_checksum_field_short"] = raw(
        {"__metadata__": {"swirl.header_crc32": "0"}, "a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}},
        b"\0" * 4)
    _, h, d = build([("w", "F32", [2, 3])])
    seeds["bad_truncated_data"] = file_bytes(h, d[:-1])
    seeds["bad_trailing_byte"] = file_bytes(h, d + b"\0")
    seeds["bad_length_past_end"] = file_bytes(h, d, length=len(h) + len(d) + 1)
    seeds["bad_huge_length"] = file_bytes(h, d, length=(1 << 63) + 5)
    seeds["bad_short_file"] = b"\x08\x00\x00"
    seeds["bad_not_json"] = file_bytes(b"{\"w\":", d)
    seeds["bad_header_array"] = file_bytes(b"[1,2,3]", b"")
    seeds["bad_dtype"] = raw({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4)
    seeds["bad_negative_shape"] = raw({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4)
    seeds["bad_shape_mismatch"] = raw({"w": {"dtype": "F64", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16)
    seeds["bad_overlap"] = raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12)
    seeds["bad_gap"] = raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                            "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, b"\0" * 12)
    seeds["bad_offsets_reversed"] = raw({"a": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}}, b"\0" * 4)
    seeds["bad_huge_shape"] = raw({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4],
                                         "data_offsets": [0, 0]}}, b"")
    seeds["bad_huge_offsets"] = raw({"a": {"dtype": "I64", "shape": [2305843009213693952],
                                           "data_offsets": [0, 18446744073709551600]}}, b"")
    seeds["bad_metadata_number"] = raw({"__metadata__": {"step": 3},
                                        "a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, b"\0" * 4)
    seeds["bad_missing_field"] = raw({"a": {"dtype": "F32", "data_offsets": [0, 4]}}, b"\0" * 4)
    seeds["bad_float_shape"] = raw({"a": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}}, b"\0" * 4)
    seeds["bad_nine_dims"] = raw({"a": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}, b"\0" * 4)

    for old in os.listdir(out):
        os.remove(os.path.join(out, old))
    for name, blob in sorted(seeds.items()):
        assert len(blob) < 4096, name
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
    print(f"wrote {len(seeds)} seeds to {out}")


if __name__ == "__main__":
    main()
