"""`python -m bench.decoders`: PNG decoders compared on the page's own canvases.

It also times the preprocessing on the same canvases, so the two costs of turning the
page's request into the model's input sit side by side.

The page's PNGs come from Chromium's encoder: 8-bit RGBA, every row filtered with "Up".
Each candidate turns them into pixels; the table gives the best mean time per canvas of
several passes, and whether the pixels equal Pillow's. Candidates whose package is not
installed (isal, zlib-ng, deflate are not dependencies) are listed as such.
"""

import importlib
import io
import time
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image

from bench.page_canvases import load
from recognizer import preprocess

PASSES = 7


def idat(data: bytes) -> bytes:
    """The concatenated IDAT payload of a PNG."""
    parts, offset = [], 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        if data[offset + 4 : offset + 8] == b"IDAT":
            parts.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return b"".join(parts)


def unfilter_up(raw: bytes, height: int, width: int) -> np.ndarray:
    """Undo PNG's "Up" filter (every row the page sends uses it) with NumPy."""
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + width * 4)
    if (rows[:, 0] != 2).any():
        raise ValueError("a row with another filter than Up")
    return np.cumsum(rows[:, 1:], axis=0, dtype=np.uint8).reshape(height, width, 4)


def candidates() -> dict[str, Callable[[bytes], np.ndarray] | str]:
    def inflate_then_numpy(module: str, function: str, **kwargs) -> Callable | str:
        try:
            inflate = getattr(importlib.import_module(module), function)
        except ImportError:
            return f"{module} not installed"
        return lambda data: unfilter_up(inflate(idat(data), **kwargs), 280, 280)

    import pyspng

    return {
        "Pillow (today's path), RGBA": lambda d: np.asarray(Image.open(io.BytesIO(d))),
        "Pillow, then convert('L')": lambda d: np.asarray(Image.open(io.BytesIO(d)).convert("L")),
        "pyspng (libspng)": pyspng.load,
        "recognizer.preprocess.decode_image (pyspng + checks)": lambda d: preprocess.decode_image(
            d, 10**7
        ),
        "zlib + NumPy Up-unfilter": inflate_then_numpy("zlib", "decompress"),
        "isal + NumPy Up-unfilter": inflate_then_numpy("isal.isal_zlib", "decompress"),
        "zlib-ng + NumPy Up-unfilter": inflate_then_numpy("zlib_ng.zlib_ng", "decompress"),
        "libdeflate (deflate) + NumPy": inflate_then_numpy(
            "deflate", "zlib_decompress", originalsize=280 * (1 + 280 * 4)
        ),
        "inflate only, zlib (a floor)": lambda d: zlib.decompress(idat(d)),
    }


def main() -> None:
    fixture = load()
    kinds = fixture["kinds"]
    pngs = [p for p, kind in zip(fixture["pngs"], kinds, strict=True) if kind == "pen-280"]
    reference = [np.asarray(Image.open(io.BytesIO(p))) for p in pngs]
    print(f"{len(pngs)} page canvases (280x280 RGBA, mean {sum(map(len, pngs)) // len(pngs):,} B)")
    print("| Decoder | µs per canvas | Same pixels as Pillow |")
    print("|---|---|---|")
    for name, decode in candidates().items():
        if isinstance(decode, str):
            print(f"| {name} | ({decode}) | |")
            continue
        best = best_time(decode, pngs)
        outputs = [decode(p) for p in pngs]
        same = all(
            isinstance(o, np.ndarray) and o.shape == r.shape and np.array_equal(o, r)
            for o, r in zip(outputs, reference, strict=True)
        )
        print(f"| {name} | {best * 1e6:.0f} | {'yes' if same else 'n/a'} |")
    decoded = [preprocess.decode_image(p, 10**7) for p in pngs]
    for name, work, items in (
        ("canvas_to_input (preprocessing)", preprocess.canvas_to_input, decoded),
        (
            "decode_image + canvas_to_input",
            lambda d: preprocess.canvas_to_input(preprocess.decode_image(d, 10**7)),
            pngs,
        ),
    ):
        print(f"| {name} | {best_time(work, items) * 1e6:.0f} | |")


def best_time(work: Callable, items: list) -> float:
    """The best mean seconds per item of PASSES passes."""
    best = float("inf")
    for _ in range(PASSES):
        started = time.perf_counter()
        for item in items:
            work(item)
        best = min(best, (time.perf_counter() - started) / len(items))
    return best


if __name__ == "__main__":
    main()
