"""Test images for uploads, made with Pillow (and by hand where Pillow cannot write them): every
format and every bad input an upload may be. Imported by tests/inference and tests/server."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def picture(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """Smooth colour gradients with a little noise: survives JPEG, and is not uniform."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([255 * xx / max(width - 1, 1), 255 * yy / max(height - 1, 1),
                    np.full_like(xx, 128.0)], -1) + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_by_hand(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes | None = None) -> bytes:
    """A PNG with any header; `rows` is the raw scanline data (filter bytes included) to compress."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows or b"\0" * 64))
            + _chunk(b"IEND", b""))


def png16_rgb(pixels: np.ndarray) -> bytes:
    """(H, W, 3) uint16 as a 16-bit-per-channel RGB PNG (Pillow cannot write these)."""
    h, w, _ = pixels.shape
    rows = b"".join(b"\0" + pixels[y].astype(">u2").tobytes() for y in range(h))
    return png_by_hand(w, h, 16, 2, rows)


def bomb() -> bytes:
    """A 100-byte-ish PNG that declares 100000 x 100000 RGB pixels (30 GB decoded)."""
    return png_by_hand(100_000, 100_000, 8, 2)


def animated_gif() -> bytes:
    """Three frames: red, green, blue. The first is the one classified."""
    frames = [Image.new("RGB", (40, 40), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
