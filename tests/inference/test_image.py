"""decode_image: every format, orientation, transparency, colour mode and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from convscope.inference import MAX_BYTES, ImageError, decode_image

from upload_images import SVG, animated_gif, bomb, encode, picture, png16_rgb, png_by_hand, with_orientation


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP"])
def test_every_format_gives_32x32_rgb(fmt):
    decoded = decode_image(encode(picture(), fmt))
    assert decoded.pixels.shape == (32, 32, 3) and decoded.pixels.dtype == np.uint8
    assert decoded.format == fmt
    assert decoded.pixels.std() > 10  # a picture, not a flat colour


def test_a_32x32_png_is_passed_through_exactly():
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    decoded = decode_image(encode(Image.fromarray(pixels), "PNG"))
    np.testing.assert_array_equal(decoded.pixels, pixels)
    assert decoded.crop.size == 32 and decoded.notes == []


@pytest.mark.parametrize(("width", "height", "left", "top"), [(64, 48, 8, 0), (48, 64, 0, 8)])
def test_the_centre_square_is_cut_out_and_scaled(width, height, left, top):
    image = picture(width, height)
    decoded = decode_image(encode(image, "PNG"))
    crop = decoded.crop
    assert (crop.width, crop.height, crop.left, crop.top, crop.size) == (width, height, left, top, 48)
    expected = np.asarray(image.crop((left, top, left + 48, top + 48)).resize((32, 32), Image.Resampling.LANCZOS))
    assert np.abs(decoded.pixels.astype(int) - expected).max() <= 2
    assert any("centre 48x48 square" in note for note in decoded.notes)


def test_a_large_jpeg_is_decoded_small_but_reported_in_its_own_pixels():
    image = picture(2000, 1500)
    data = encode(image, "JPEG", quality=95)
    decoded = decode_image(data)
    crop = decoded.crop
    assert (crop.width, crop.height, crop.left, crop.top, crop.size) == (2000, 1500, 250, 0, 1500)
    full = np.asarray(image.crop((250, 0, 1750, 1500)).resize((32, 32), Image.Resampling.LANCZOS))
    assert np.abs(decoded.pixels.astype(int) - full).mean() < 4


def test_exif_orientation_turns_the_picture_upright():
    top_red = np.zeros((40, 60, 3), np.uint8)
    top_red[:20] = (255, 0, 0)
    top_red[20:] = (0, 0, 255)
    decoded = decode_image(with_orientation(Image.fromarray(top_red), 6))  # 6: turn 90 degrees clockwise
    assert (decoded.crop.width, decoded.crop.height, decoded.crop.top, decoded.crop.size) == (40, 60, 10, 40)
    left, right = decoded.pixels[:, :12].mean((0, 1)), decoded.pixels[:, -12:].mean((0, 1))
    assert left[2] > 200 and left[0] < 60, left  # the blue bottom is now on the left
    assert right[0] > 200 and right[2] < 60, right  # the red top on the right
    assert any("EXIF" in note for note in decoded.notes)


def test_transparency_is_laid_on_white():
    clear = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    decoded = decode_image(encode(clear, "PNG"))
    assert decoded.pixels.min() >= 254
    half = np.zeros((40, 40, 4), np.uint8)
    half[..., 2], half[..., 3] = 255, 128  # half-transparent blue: light blue on white
    pixel = decode_image(encode(Image.fromarray(half, "RGBA"), "PNG")).pixels[16, 16]
    assert abs(int(pixel[0]) - 127) <= 2 and pixel[2] == 255
    assert any("white" in note for note in decode_image(encode(clear, "PNG")).notes)


def test_a_gif_with_a_transparent_colour_is_laid_on_white():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    decoded = decode_image(encode(image, "GIF", transparency=0))
    assert decoded.pixels.min() >= 254


def test_grayscale_becomes_grey_rgb():
    gray = Image.fromarray(np.tile(np.linspace(0, 255, 48).astype(np.uint8), (48, 1)), "L")
    decoded = decode_image(encode(gray, "PNG"))
    assert np.array_equal(decoded.pixels[..., 0], decoded.pixels[..., 1])
    assert np.array_equal(decoded.pixels[..., 1], decoded.pixels[..., 2])
    assert decoded.pixels[:, 0, 0].mean() < 20 and decoded.pixels[:, -1, 0].mean() > 235


def test_a_cmyk_jpeg_becomes_the_right_rgb():
    red = Image.new("CMYK", (40, 40), (0, 255, 255, 0))  # no cyan, full magenta and yellow
    decoded = decode_image(encode(red, "JPEG", quality=95))
    r, g, b = decoded.pixels.reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60, (r, g, b)
    assert decoded.mode == "CMYK" and any("CMYK" in note for note in decoded.notes)


def test_a_16_bit_grayscale_png_keeps_its_tones():
    ramp = np.tile(np.linspace(0, 65535, 64), (64, 1)).astype(np.uint16)
    data = encode(Image.fromarray(ramp), "PNG")
    decoded = decode_image(data)
    assert decoded.mode.startswith("I")
    middle = decoded.pixels[:, 15:17, 0].mean()
    assert 100 < middle < 155, middle  # 16-bit mid-grey is 8-bit mid-grey, not white
    assert decoded.pixels[:, 0, 0].max() < 10 and decoded.pixels[:, -1, 0].min() > 245
    assert any("16-bit" in note for note in decoded.notes)


def test_a_16_bit_rgb_png_becomes_8_bit():
    pixels = np.zeros((32, 32, 3), np.uint16)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = 65535, 32768, 0
    decoded = decode_image(png16_rgb(pixels))
    assert tuple(decoded.pixels[5, 5]) == (255, 128, 0)
    assert any("16 bits" in note for note in decoded.notes)


def test_an_animated_gif_gives_its_first_frame():
    decoded = decode_image(animated_gif())
    r, g, b = decoded.pixels.reshape(-1, 3).mean(0)
    assert r > 240 and g < 15 and b < 15
    assert any("first frame" in note for note in decoded.notes)


def test_a_1x1_image_fills_the_input():
    decoded = decode_image(encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"))
    assert (decoded.pixels == (10, 200, 30)).all()
    assert decoded.crop.size == 1


def test_a_10000_by_10_image_gives_its_middle():
    strip = np.zeros((10, 10000, 3), np.uint8)
    strip[:, 4995:5005] = (0, 255, 0)  # only the middle 10 columns are green
    decoded = decode_image(encode(Image.fromarray(strip), "PNG"))
    assert (decoded.crop.left, decoded.crop.top, decoded.crop.size) == (4995, 0, 10)
    assert decoded.pixels[..., 1].min() > 240


def test_the_same_file_decodes_the_same():
    data = encode(picture(300, 200), "JPEG")
    np.testing.assert_array_equal(decode_image(data).pixels, decode_image(data).pixels)


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"", 422, "empty"),
    (b"this is a text file, whatever its name says\n" * 3, 415, "text"),
    (SVG, 415, "SVG"),
    (bomb(), 422, "decompression bomb"),
    (b"\xff" * (MAX_BYTES + 1), 413, "limit"),
])
def test_bad_input_says_what_is_wrong(data, status, words):
    with pytest.raises(ImageError) as caught:
        decode_image(data)
    assert caught.value.status == status
    assert words in str(caught.value)


def test_a_truncated_jpeg_is_refused():
    data = encode(picture(200, 200), "JPEG")
    with pytest.raises(ImageError) as caught:
        decode_image(data[:len(data) // 2])
    assert caught.value.status == 422 and "damaged or cut short" in str(caught.value)


def test_the_bomb_is_refused_from_its_header_before_decoding():
    """Past Pillow's own bomb limit it refuses to open the file; past MAX_PIXELS but within Pillow's
    limit the declared size is checked before decoding. Either way the message names the size."""
    with pytest.raises(ImageError) as caught:
        decode_image(bomb())  # 100000 x 100000: Pillow's DecompressionBombError, at open
    assert caught.value.status == 422
    assert str(caught.value).startswith("the image declares so many (10,000,000,000 pixels); the limit is 40 megapixels")
    # 50 megapixels: Pillow would open and decode it (its data is missing: decoding would say "damaged")
    with pytest.raises(ImageError) as caught:
        decode_image(png_by_hand(10_000, 5_000, 8, 2))
    assert caught.value.status == 422
    assert str(caught.value).startswith("the image declares 10000x5000 (50,000,000 pixels); the limit is 40 megapixels")
    assert "not decoded" in str(caught.value)
