"""An uploaded file as the image the network sees, or an ImageError that says why not.

    decoded = decode_image(open("cat.jpg", "rb").read(), fmt)   # fmt: the network's InputFormat
    decoded.pixels          # (32, 32, 3) uint8 for CIFAR-10: the centre square, scaled down
    decoded.crop            # where that square lies in the uploaded picture

For a grayscale network (MNIST, Fashion-MNIST: (28, 28, 1)) the square becomes gray, and a
picture on a light background is inverted when the training images are light shapes on black
(a digit drawn in pen on paper, a photo of a shoe on a white table).

JPEG, PNG, WebP, GIF and BMP (Pillow). The EXIF orientation is applied, transparency is laid on
white, grayscale, palette, CMYK and 16-bit images become 8-bit RGB, and an embedded colour
profile is converted to sRGB. The centre square keeps the aspect ratio: nothing is stretched,
the sides of a wide picture (or the top and bottom of a tall one) are cut off.

Limits: MAX_BYTES per file (413), MAX_PIXELS declared width x height (422: a decompression bomb
is refused from its header, before anything is decoded).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..train.inputs import CIFAR10, InputFormat

MAX_BYTES = 10 * 1024 * 1024  # an upload larger than this is refused (413)
MAX_PIXELS = 40_000_000  # declared width x height; more is refused before decoding (422)
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
SRGB = ImageCms.createProfile("sRGB")


class ImageError(ValueError):
    """An upload that cannot be classified, with the HTTP status that says so and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Crop:
    """The uploaded picture (after EXIF rotation) and the centre square cut from it, in its pixels."""
    width: int
    height: int
    left: int
    top: int
    size: int  # side of the square that was scaled to SIZE x SIZE


@dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray  # (H, W, C) uint8 in the network's format: RGB, or C = 1 gray
    format: str  # "JPEG", "PNG", "WEBP", "GIF" or "BMP"
    mode: str  # Pillow's mode of the file as stored: "RGB", "CMYK", "I;16", "P", ...
    crop: Crop
    notes: list[str] = field(default_factory=list)  # what was done to it, for people


def decode_image(data: bytes, fmt: InputFormat = CIFAR10) -> Decoded:
    """The centre square of the image in `data` in the network's format (fmt: square, RGB or gray,
    its polarity); raises ImageError."""
    if fmt.height != fmt.width or fmt.channels not in (1, 3):
        raise ImageError(422, f"this network takes {fmt.channels}x{fmt.height}x{fmt.width} images: uploads "
                              "are converted to square RGB or grayscale images only")
    size = fmt.width
    image, notes, orientation = open_upload(data)
    kind, stored_mode, (width, height) = str(image.format), image.mode, image.size
    if kind == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale where the square stays >= 2 * size
        side = min(width, height)
        image.draft(image.mode, (math.ceil(width * 2 * size / side), math.ceil(height * 2 * size / side)))
    image, icc = load_upright(image, orientation, notes)
    # the picture upright, in the file's own pixels (a JPEG may have been decoded smaller)
    full_w, full_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    image = _on_white(_eight_bit(image, data, notes), notes)
    side = min(full_w, full_h)
    left, top = (full_w - side) // 2, (full_h - side) // 2
    fx, fy = full_w / image.size[0], full_h / image.size[1]  # 1, or the JPEG's reduction
    box = (round(left / fx), round(top / fy), max(round((left + side) / fx), round(left / fx) + 1),
           max(round((top + side) / fy), round(top / fy) + 1))
    # crop first: the network sees the square only, nothing of what lies beside it
    small = image.crop(box).resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    small = _to_srgb(small, icc, notes)
    crop = Crop(width=full_w, height=full_h, left=left, top=top, size=side)
    if full_w != full_h:
        notes.append(f"the centre {crop.size}x{crop.size} square of {full_w}x{full_h} is used")
    if fmt.channels == 1:
        small = _gray(small, fmt.dark_background, notes)
    pixels = np.asarray(small, dtype=np.uint8).reshape(size, size, fmt.channels)
    return Decoded(pixels=np.ascontiguousarray(pixels), format=kind, mode=stored_mode, crop=crop, notes=notes)


def decode_whole(data: bytes) -> tuple[Image.Image, Decoded]:
    """The whole image in `data`, upright, as 8-bit sRGB RGB on white, for a model's own
    preprocessing (convscope.watch), and what was done to it; raises ImageError."""
    image, notes, orientation = open_upload(data)
    kind, stored_mode = str(image.format), image.mode
    image, icc = load_upright(image, orientation, notes)
    image = _to_srgb(_on_white(_eight_bit(image, data, notes), notes), icc, notes)  # gray becomes RGB
    width, height = image.size
    crop = Crop(width=width, height=height, left=0, top=0, size=max(width, height))
    return image, Decoded(pixels=np.asarray(image), format=kind, mode=stored_mode, crop=crop, notes=notes)


def png_bytes(pixels: np.ndarray) -> bytes:
    """(H, W, 3) RGB or (H, W, 1) gray uint8 as a PNG file."""
    out = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(out, format="PNG")
    return out.getvalue()


def open_upload(data: bytes) -> tuple[Image.Image, list[str], int | None]:
    """The upload's header, read and checked (its size, its declared pixels): the image, not yet
    decoded (a JPEG may still be drafted smaller), the notes so far and its EXIF orientation."""
    if not data:
        raise ImageError(422, "the file is empty")
    if len(data) > MAX_BYTES:
        raise ImageError(413, f"the file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES / 2**20:.0f} MB")
    image = _open(data)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(422, f"the image declares no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageError(422, _too_many(width * height, f"{width}x{height}"))
    notes: list[str] = []
    if getattr(image, "is_animated", False):
        notes.append("animated: the first frame is used")
    return image, notes, _orientation(image)


def load_upright(image: Image.Image, orientation: int | None, notes: list[str]) -> tuple[Image.Image, bytes | None]:
    """Decode the pixels and turn them upright as the EXIF orientation says: (image, its ICC profile)."""
    kind = str(image.format)
    try:
        image.load()
        icc = image.info.get("icc_profile")
        if orientation not in (None, 1):
            image = ImageOps.exif_transpose(image)
            notes.append("turned upright as its EXIF orientation says")
    except Image.DecompressionBombError as e:
        raise ImageError(422, _too_many(_declared_pixels(str(e)), "so many pixels")) from None
    except Exception as e:  # Pillow's decoders raise OSError, ValueError, SyntaxError, EOFError, ...
        raise ImageError(422, f"the {kind} data is damaged or cut short ({_reason(e)})") from None
    return image, icc


# -- the steps ------------------------------------------------------------------------------------
def _open(data: bytes) -> Image.Image:
    """Read the header only: the format and the declared size."""
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml", b"<!doctype svg")) or b"<svg" in head:
        raise ImageError(415, "SVG is a vector drawing, not a picture made of pixels: save it as PNG "
                              "or JPEG and upload that")
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError(415, "not a JPEG, PNG, WebP, GIF or BMP image" + _what(data)) from None
    except Image.DecompressionBombError as e:
        raise ImageError(422, _too_many(_declared_pixels(str(e)), "so many")) from None
    except Exception as e:
        raise ImageError(422, f"the image header is damaged ({_reason(e)})") from None


def _eight_bit(image: Image.Image, data: bytes, notes: list[str]) -> Image.Image:
    """Any mode -> RGB, RGBA, L or CMYK with 8 bits per channel."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":  # 16-bit (or 32-bit) grayscale
        values = np.asarray(image).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        notes.append("16-bit grayscale reduced to 8 bits" if top > 255 else "grayscale")
        return Image.fromarray(np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8), "L")
    if image.format == "PNG" and data[12:16] == b"IHDR" and data[24] == 16:
        notes.append("16 bits per channel reduced to 8")  # Pillow keeps the high byte
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("1", "L", "LA", "La"):
        notes.append("grayscale")
        return image.convert("LA" if mode in ("LA", "La") else "L")
    if mode in ("RGB", "RGBA", "CMYK"):
        return image
    if mode in ALPHA_MODES:
        return image.convert("RGBA")
    return image.convert("RGB")  # YCbCr, LAB, HSV, ...


def _on_white(image: Image.Image, notes: list[str]) -> Image.Image:
    """Lay an image with transparency on a white background."""
    if image.mode not in ("RGBA", "LA"):
        return image
    rgba = image.convert("RGBA")
    if rgba.getchannel("A").getextrema()[0] < 255:
        notes.append("transparent parts laid on white")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    white.alpha_composite(rgba)
    return white.convert("RGB" if image.mode == "RGBA" else "L")


def _to_srgb(image: Image.Image, icc: bytes | None, notes: list[str]) -> Image.Image:
    """RGB in sRGB: through the embedded colour profile where there is one, else as Pillow does."""
    if icc and image.mode in ("RGB", "CMYK"):
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if image.mode == "CMYK" or "srgb" not in ImageCms.getProfileDescription(profile).lower():
                converted = ImageCms.profileToProfile(image, profile, SRGB, outputMode="RGB")
                if converted is not None:
                    notes.append(("CMYK" if image.mode == "CMYK" else "colour profile") + " converted to sRGB")
                    return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the plain conversion
    if image.mode == "CMYK":
        notes.append("CMYK converted to RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


# -- messages -------------------------------------------------------------------------------------
def _gray(image: Image.Image, dark_background: bool, notes: list[str]) -> Image.Image:
    """Luma (ITU-R 601); inverted when the network knows light shapes on black and this picture's
    border is light."""
    gray = image.convert("L")
    notes.append("made gray: the network sees one channel")
    pixels = np.asarray(gray)
    border = np.concatenate([pixels[[0, -1]].ravel(), pixels[:, [0, -1]].ravel()])
    if dark_background and border.mean() > 127:
        notes.append("inverted: the network learnt light shapes on a dark background")
        return ImageOps.invert(gray)
    return gray


def _too_many(pixels: int | None, size: str) -> str:
    count = f"{pixels:,} pixels" if pixels else "too many pixels"
    return (f"the image declares {size} ({count}); the limit is {MAX_PIXELS // 1_000_000} megapixels, "
            "so it was not decoded (a small file that unpacks into a huge image is a decompression bomb)")


def _declared_pixels(message: str) -> int | None:
    found = re.search(r"\((\d+) pixels\)", message)
    return int(found.group(1)) if found else None


def _what(data: bytes) -> str:
    """A guess at what the file is instead, for the message."""
    head = data[:512]
    if head.startswith(b"%PDF"):
        return ": it is a PDF"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return ": it looks like HEIC/AVIF, which this server does not read; save it as JPEG"
    if head[:2] == b"II" or head[:2] == b"MM":
        return ": it looks like TIFF; save it as PNG or JPEG"
    try:
        head.decode("utf-8")
        return ": it is text"
    except UnicodeDecodeError:
        return ""


def _reason(e: Exception) -> str:
    text = str(e).splitlines()[0][:200] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(0x0112)
    except Exception:
        return None

