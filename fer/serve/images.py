"""Uploaded bytes → an RGB array, safely: the format is sniffed from magic bytes, size and pixels are capped.

Nothing is written to disk. The header is read first, so a decompression bomb (a small file that claims
a huge image) is refused before any pixel is decoded. :class:`RequestError` is the refusal every endpoint
answers with (as JSON ``{"error": code, "message": message}``).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Formats the API accepts, by the name :func:`sniff` returns, with PIL's name for each.
FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


class RequestError(ValueError):
    """A refused upload or request: ``status`` is the HTTP status to answer with, ``code`` a short tag."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def sniff(data: bytes) -> str | None:
    """``"jpeg"``, ``"png"`` or ``"webp"`` from the first bytes of ``data``; ``None`` for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int) -> tuple[np.ndarray, str]:
    """Decode a JPEG, PNG or WebP upload to ``H x W x 3`` uint8 **RGB** (EXIF rotation applied).

    Returns:
        ``(image, format)`` with ``format`` one of :data:`FORMATS`.

    Raises:
        RequestError: empty (400), over ``max_bytes`` (413), not one of the formats (415), more than
            ``max_pixels`` pixels (413), or a damaged file (400).
    """
    if not data:
        raise RequestError(400, "empty", "empty upload: send a JPEG, PNG or WebP image")
    if len(data) > max_bytes:
        raise RequestError(413, "too_large", f"upload of {len(data):,} bytes is over the limit of {max_bytes:,} bytes")
    fmt = sniff(data)
    if fmt is None:
        raise RequestError(415, "not_an_image", "the upload is not a JPEG, PNG or WebP image (checked from its "
                                              "first bytes, whatever its name or content type says)")
    try:
        with Image.open(io.BytesIO(data), formats=[FORMATS[fmt]]) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise RequestError(413, "too_many_pixels", f"image of {width}x{height} = {width * height:,} pixels "
                                                         f"is over the limit of {max_pixels:,} pixels")
            im = ImageOps.exif_transpose(im)
            rgb = np.asarray(im.convert("RGB"))
    except RequestError:
        raise
    except Image.DecompressionBombError as err:
        raise RequestError(413, "too_many_pixels", f"image refused as a decompression bomb: {err}") from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise RequestError(400, "bad_image", f"could not decode the {fmt.upper()} image: {err}") from err
    if rgb.ndim != 3 or 0 in rgb.shape:
        raise RequestError(400, "bad_image", f"decoded {fmt.upper()} image has no pixels (shape {rgb.shape})")
    return rgb, fmt
