"""The page's PNGs decoded fast: 8-bit greyscale, RGB and RGBA through libspng.

Every canvas the page posts is an 8-bit RGBA PNG (`canvas.toBlob`), and Pillow spends
about 0.38 ms decoding one; libspng (the `pyspng` wheel, 0.4 MB) gives the same pixels in
about 0.13 ms (docs/benchmarks.md). Only the plain common cases come here: 8 bits per
sample, colour types grey, RGB and RGBA, every chunk whole with a right CRC, and no
`tRNS` chunk (libspng's automatic format would drop that transparency, which Pillow
honours). Grey with alpha (which libspng 0.7 will not return as such), palette, 16-bit and
every other format stay with Pillow, as does any file libspng refuses, so that the answer
to an odd file is Pillow's, as before.
"""

import struct
import zlib
from typing import NamedTuple

import numpy as np
import pyspng

SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST_COLOUR_TYPES = {0: 1, 2: 3, 6: 4}
"""PNG colour type to the number of channels libspng returns for it at 8 bits."""


class PngHeader(NamedTuple):
    """The IHDR fields that decide how a PNG may be decoded."""

    width: int
    height: int
    bit_depth: int
    colour_type: int


def read_header(data: bytes) -> PngHeader | None:
    """The IHDR of a PNG, or None if the bytes do not start like one."""
    if len(data) < 33 or not data.startswith(SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height, bit_depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return PngHeader(width, height, bit_depth, colour_type)


def decode(data: bytes, header: PngHeader) -> np.ndarray | None:
    """Pixels as uint8 (H, W) or (H, W, C), or None when the PNG is not a plain common case.

    None means: let Pillow decode it (also for a file libspng finds broken, so that the
    client gets the same answer as from Pillow).
    """
    if header.bit_depth != 8 or header.colour_type not in FAST_COLOUR_TYPES:
        return None
    if not _plain_chunks(data):
        return None
    try:
        pixels = pyspng.load(data)
    except Exception:  # a hostile file can make a decoder raise anything; Pillow decides
        return None
    channels = FAST_COLOUR_TYPES[header.colour_type]
    expected = (header.height, header.width) + ((channels,) if channels > 1 else ())
    if pixels.dtype != np.uint8 or pixels.shape != expected:
        return None
    return pixels


def _plain_chunks(data: bytes) -> bool:
    """Whether every chunk is whole with a right CRC, up to IEND, and none is tRNS.

    libspng is told to trust CRCs; checking them here (a few microseconds) sends a damaged
    file to Pillow, so the client hears what Pillow makes of it, as before.
    """
    offset = len(SIGNATURE)
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        end = offset + 8 + length
        if end + 4 > len(data):
            return False
        kind = data[offset + 4 : offset + 8]
        (crc,) = struct.unpack_from(">I", data, end)
        if kind == b"tRNS" or zlib.crc32(data[offset + 4 : end]) != crc:
            return False
        if kind == b"IEND":
            return True
        offset = end + 4
    return False
