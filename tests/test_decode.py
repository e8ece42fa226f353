"""Decoding every accepted kind of image, and refusing the rest with a message a person can act on."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from service.decode import decode_image, sniff_format
from service.errors import ImageTooLarge, InputError


@pytest.fixture
def gray_digit_field() -> np.ndarray:
    field = np.full((40, 60), 230, np.uint8)
    cv2.putText(field, "7", (20, 32), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 20, 3)
    return field


@pytest.mark.parametrize("extension", [".png", ".jpg", ".bmp", ".tiff", ".webp"])
def test_each_format_decodes_to_bgr8(gray_digit_field, extension):
    encoded = cv2.imencode(extension, cv2.cvtColor(gray_digit_field, cv2.COLOR_GRAY2BGR))[1].tobytes()
    image = decode_image(encoded)
    assert image.shape == (40, 60, 3) and image.dtype == np.uint8
    # The ink is still where it was drawn (lossy formats change a few levels, not the picture).
    assert abs(int(image[:, :, 0].mean()) - int(gray_digit_field.mean())) < 6


def test_gray_png_becomes_three_equal_channels(gray_digit_field):
    image = decode_image(cv2.imencode(".png", gray_digit_field)[1].tobytes())
    np.testing.assert_array_equal(image[:, :, 0], gray_digit_field)
    np.testing.assert_array_equal(image[:, :, 2], gray_digit_field)


def test_16_bit_png_is_scaled_to_8_bits():
    deep = np.full((10, 10), 65535, np.uint16)
    deep[5, 5] = 256 * 40
    image = decode_image(cv2.imencode(".png", deep)[1].tobytes())
    assert image[0, 0, 0] == 255 and image[5, 5, 0] == 40


def test_12_bit_camera_pixels_in_a_16_bit_png_keep_their_range():
    # A 12-bit camera writes 0..4095 into 16-bit files: the top 8 of the 12 bits, not of 16.
    deep = np.full((10, 10), 4095, np.uint16)
    deep[5, 5] = 16 * 40
    image = decode_image(cv2.imencode(".png", deep)[1].tobytes())
    assert image[0, 0, 0] == 255 and image[5, 5, 0] == 40


def test_alpha_is_composited_on_white():
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent black...
    rgba[2:4, 2:4] = (0, 0, 0, 255)  # ...except an opaque black square
    image = decode_image(cv2.imencode(".png", rgba)[1].tobytes())
    assert image[0, 0].tolist() == [255, 255, 255]
    assert image[3, 3].tolist() == [0, 0, 0]


def test_palette_png_decodes(gray_digit_field):
    buffer = io.BytesIO()
    Image.fromarray(gray_digit_field).convert("P").save(buffer, format="PNG")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode == "P"
    image = decode_image(buffer.getvalue())
    assert image.shape == (40, 60, 3)
    assert abs(int(image[:, :, 1].mean()) - int(gray_digit_field.mean())) < 3


def test_jpeg_exif_orientation_is_applied():
    wide = np.full((20, 50, 3), 255, np.uint8)
    wide[:, :10] = 0  # dark band on the left
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    Image.fromarray(wide).save(buffer, format="JPEG", exif=exif, quality=95)
    image = decode_image(buffer.getvalue())
    assert image.shape[:2] == (50, 20)  # turned upright
    assert image[:10].mean() < 60 and image[-10:].mean() > 200  # the left band is now on top


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty image"),
        (b"hello, this is text", "not an image"),
        (b"GIF89a" + b"\x00" * 20, "unsupported image format GIF"),
        (b"%PDF-1.7\n", "unsupported image format PDF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unsupported image format SVG"),
    ],
)
def test_refused_inputs_say_why(data, message):
    with pytest.raises(InputError, match=message):
        decode_image(data)


def test_truncated_png_is_reported_corrupt(gray_digit_field):
    encoded = cv2.imencode(".png", gray_digit_field)[1].tobytes()
    with pytest.raises(InputError, match="corrupt or truncated PNG"):
        decode_image(encoded[:40])


def test_pixel_limit():
    encoded = cv2.imencode(".png", np.zeros((100, 100), np.uint8))[1].tobytes()
    with pytest.raises(ImageTooLarge, match="10,000 pixels, over the limit of 5,000"):
        decode_image(encoded, max_pixels=5000)


def test_sniffing_knows_webp_and_tiff():
    assert sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WebP"
    assert sniff_format(b"II*\x00rest") == "TIFF"
