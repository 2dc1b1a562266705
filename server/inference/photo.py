"""An uploaded file as a whole photo to slide the network over, or an ImageError that says why not.

    photo = decode_photo(open("street.jpg", "rb").read(), fmt, longest=256)
    photo.pixels            # (H, W, C) uint8: the whole picture, its longer side 256 pixels
    photo.scale             # photo pixels per pixel of the upload

decode_image (image.py) cuts out the centre square at the network's input size; this keeps the
whole picture, upright, scaled so that its longer side is `longest` pixels (and each side at
least the network's input, so one window fits), in the network's channels. The steps and the
refusals are image.py's: the same formats, limits, EXIF rotation, transparency on white, 8-bit
conversion, sRGB, and gray (inverted for a network of light shapes on black) for one channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..train.inputs import CIFAR10, InputFormat
from .image import ImageError, _eight_bit, _gray, _on_white, _to_srgb, load_upright, open_upload

MAX_SIDE = 2048  # a photo scaled up so the window fits may be no longer than this (a strip of a picture)


@dataclass(frozen=True)
class Photo:
    pixels: np.ndarray  # (H, W, C) uint8 in the network's channels: RGB, or C = 1 gray
    format: str  # "JPEG", "PNG", "WEBP", "GIF" or "BMP"
    mode: str  # Pillow's mode of the file as stored
    width: int  # the upload, upright, in its own pixels
    height: int
    scale: float  # photo pixels per upload pixel
    notes: list[str] = field(default_factory=list)  # what was done to it, for people


def photo_size(width: int, height: int, longest: int, window: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a width x height picture scaled so its longer side is `longest`, or more
    where a side would be shorter than the window's (height, width)."""
    scale = max(longest / max(width, height), window[0] / height, window[1] / width)
    return max(window[1], round(width * scale)), max(window[0], round(height * scale))


def decode_photo(data: bytes, fmt: InputFormat = CIFAR10, longest: int = 256) -> Photo:
    """The whole image in `data`, upright, its longer side `longest`, in fmt's channels; raises ImageError."""
    if fmt.channels not in (1, 3):
        raise ImageError(422, f"this network takes {fmt.channels}-channel images: photos become RGB or gray only")
    image, notes, orientation = open_upload(data)
    kind, stored_mode, (width, height) = str(image.format), image.mode, image.size
    upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    size = photo_size(*upright, longest, (fmt.height, fmt.width))
    if max(size) > MAX_SIDE:
        raise ImageError(422, f"the picture is {upright[0]}x{upright[1]}: scaled so that a {fmt.height}x{fmt.width} "
                              f"window fits, it would be {size[0]}x{size[1]}, longer than {MAX_SIDE} pixels; "
                              "crop it to a less narrow picture")
    if kind == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale where the picture stays >= twice the photo's size
        image.draft(image.mode, (math.ceil(2 * size[0] * width / upright[0]),
                                 math.ceil(2 * size[1] * height / upright[1])))
    image, icc = load_upright(image, orientation, notes)
    image = _on_white(_eight_bit(image, data, notes), notes)
    photo = _to_srgb(image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0), icc, notes)
    scale = size[0] / upright[0]
    if scale > 1:
        notes.append(f"scaled up {scale:.3g} times, to {size[0]}x{size[1]}")
    elif scale < 1:
        notes.append(f"scaled down to {size[0]}x{size[1]}")
    if fmt.channels == 1:
        photo = _gray(photo, fmt.dark_background, notes)
    pixels = np.asarray(photo, dtype=np.uint8).reshape(size[1], size[0], fmt.channels)
    return Photo(pixels=np.ascontiguousarray(pixels), format=kind, mode=stored_mode, width=upright[0],
                 height=upright[1], scale=scale, notes=notes)
