"""Bytes to an 8-bit BGR image, whatever the sorting machine's camera sent: PNG, JPEG, BMP, TIFF, WebP;
gray or colour; 8 or 16 bits; with alpha (composited on white paper) or a palette; JPEG EXIF orientation
applied. Anything else is an InputError that says what was wrong."""
from __future__ import annotations

import cv2
import numpy as np

from service.errors import ImageTooLarge, InputError
from service.image_header import dimensions

# Magic numbers of what we accept, and of the formats people most often send by mistake.
_ACCEPTED = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_REFUSED = (
    (b"GIF8", "GIF"),
    (b"%PDF", "PDF"),
    (b"<svg", "SVG"),
    (b"<?xml", "SVG/XML"),
    (b"\x00\x00\x00\x0cjP", "JPEG 2000"),
)
SUPPORTED = "PNG, JPEG, BMP, TIFF or WebP"
DEFAULT_MAX_PIXELS = 25_000_000
DEFAULT_MAX_SIDE = 20_000


def sniff_format(data: bytes) -> str:
    """The format by magic number, or an InputError naming the problem."""
    if not data:
        raise InputError("empty image: the request carried 0 bytes")
    for magic, name in _ACCEPTED:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    head = data[:64].lstrip()
    for magic, name in _REFUSED:
        if head.startswith(magic):
            raise InputError(f"unsupported image format {name}; send {SUPPORTED}")
    raise InputError(f"not an image: the first bytes match no known image format; send {SUPPORTED}")


def check_size(width: int, height: int, max_pixels: int, max_side: int, source: str) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"{source} gives an empty size of {width}x{height}")
    if width > max_side or height > max_side:
        raise ImageTooLarge(f"{source} gives {width}x{height}: a side over the limit of {max_side:,} pixels; "
                            "send the zip-code field only, or a smaller image")
    if width * height > max_pixels:
        raise ImageTooLarge(f"{source} gives {width}x{height} = {width * height:,} pixels, over the limit of "
                            f"{max_pixels:,}; send the zip-code field only, or a smaller image")


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Decode to uint8 BGR [H, W, 3]. The size is checked from the header first, so a small file that
    claims an enormous image is refused without decoding it."""
    image_format = sniff_format(data)
    claimed = dimensions(data, image_format)
    if claimed is not None:
        check_size(*claimed, max_pixels, max_side, f"the {image_format} header")
    buffer = np.frombuffer(data, dtype=np.uint8)
    if image_format == "JPEG":
        # IMREAD_COLOR applies the EXIF orientation; JPEG has neither alpha nor (in practice) 16 bits.
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise InputError(f"corrupt or truncated {image_format} image: OpenCV could not decode it")
    height, width = image.shape[:2]
    check_size(width, height, max_pixels, max_side, "the decoded image")  # headers we cannot read
    return _to_bgr8(_to_8bit(image))


def _to_8bit(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        # The top 8 of the bits in use: 10- and 12-bit cameras store their pixels in 16-bit files, and
        # a plain >> 8 would leave them 4 or 16 grey levels. Full-range images lose their low byte.
        shift = max(0, int(image.max()).bit_length() - 8)
        return (image >> shift).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):  # float TIFF: 0..1 by convention
        return np.clip(np.nan_to_num(image) * 255.0, 0, 255).astype(np.uint8)
    if image.dtype == np.int8:
        return (image.astype(np.int16) + 128).astype(np.uint8)
    raise InputError(f"unsupported pixel type {image.dtype}; send 8- or 16-bit images")


def _to_bgr8(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return image
    if channels == 4:
        # Transparent parts are paper: composite on white.
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        return (image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    raise InputError(f"unsupported image with {channels} channels; send gray, colour or colour with alpha")
