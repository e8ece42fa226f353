"""Image dimensions from the header alone, so an image that claims to be enormous (a decompression
bomb: a few kilobytes of PNG that inflate to gigabytes) is refused before anything is decoded.
Returns None when the header cannot be read; decoding then reports the corrupt file."""
from __future__ import annotations

import struct

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xDA)}  # TEM, RSTn, SOI, EOI: markers without a length field


def dimensions(data: bytes, image_format: str) -> tuple[int, int] | None:
    """(width, height) as the header claims them."""
    try:
        return _READERS[image_format](data)
    except (struct.error, IndexError, ValueError):
        return None


def _png(data: bytes):
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes):
    index = 2
    while index + 4 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            index += 2
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[index + 5: index + 9])
            return width, height
        (length,) = struct.unpack(">H", data[index + 2: index + 4])
        index += 2 + length
    return None


def _bmp(data: bytes):
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # negative height: rows stored top-down


def _webp(data: bytes):
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _tiff(data: bytes):
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[offset: offset + 2])
    found = {}
    for entry in range(count):
        start = offset + 2 + 12 * entry
        tag, kind = struct.unpack(order + "HH", data[start: start + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength
            value_format = order + ("H" if kind == 3 else "I")
            found[tag] = struct.unpack(value_format, data[start + 8: start + 8 + struct.calcsize(value_format)])[0]
    return (found[256], found[257]) if len(found) == 2 else None


_READERS = {"PNG": _png, "JPEG": _jpeg, "BMP": _bmp, "WebP": _webp, "TIFF": _tiff}
