"""Reading a request body into memory with a size cap, and the one file part of a multipart form.

Nothing touches the disk (Starlette's own form parser spools large files to temporary files, so it is
not used); bodies over the cap are refused as soon as they pass it, before the rest is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.multipart import MultipartParser, parse_options_header

from fer.serve.images import RequestError

#: Room for the multipart boundaries and part headers on top of the file size limit.
MULTIPART_OVERHEAD = 64 * 1024
#: Body content types the predict endpoint takes: a form, or the image bytes themselves.
RAW_TYPES = ("image/jpeg", "image/png", "image/webp", "application/octet-stream")


def media_type(content_type: str | None) -> str:
    """The lower-case media type of a ``Content-Type`` header without its parameters (``""`` when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None) -> None:
    """Refuse (415) a body that is neither ``multipart/form-data`` nor a raw image / octet stream."""
    kind = media_type(content_type)
    if kind and kind != "multipart/form-data" and kind not in RAW_TYPES:
        raise RequestError(415, "unsupported_media_type",
                         f"content type {kind!r} is not accepted: send the image as multipart/form-data (field "
                         f"'file') or as the raw body with one of {', '.join(RAW_TYPES)}")


def body_limit(content_type: str | None, max_bytes: int) -> int:
    """The most bytes a body may have for a file of at most ``max_bytes`` (forms get room for their headers)."""
    return max_bytes + (MULTIPART_OVERHEAD if media_type(content_type) == "multipart/form-data" else 0)


async def read_capped(chunks: AsyncIterator[bytes], declared: str | None, limit: int, max_bytes: int) -> bytes:
    """Join the body ``chunks``; 413 as soon as the declared ``Content-Length`` or the bytes read pass ``limit``."""
    too_large = RequestError(413, "too_large", f"upload is over the limit of {max_bytes:,} bytes")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large
        parts.append(chunk)
    return b"".join(parts)


def multipart_file(body: bytes, content_type: str, field: str = "file") -> bytes:
    """The bytes of the form part named ``field`` (else the first part with a filename) of a multipart body.

    Raises:
        RequestError: 400 when the form has no boundary, cannot be parsed or holds no such part.
    """
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise RequestError(400, "bad_form", "multipart/form-data body without a boundary parameter")
    parts: list[dict] = []
    header: dict = {"field": b"", "value": b""}

    def begin() -> None:
        parts.append({"headers": {}, "data": bytearray()})

    def field_data(data: bytes, start: int, end: int) -> None:
        header["field"] += data[start:end]

    def value_data(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def header_end() -> None:
        parts[-1]["headers"][header["field"].lower()] = header["value"]
        header["field"], header["value"] = b"", b""

    def part_data(data: bytes, start: int, end: int) -> None:
        parts[-1]["data"] += data[start:end]

    parser = MultipartParser(boundary, {"on_part_begin": begin, "on_header_field": field_data,
                                        "on_header_value": value_data, "on_header_end": header_end,
                                        "on_part_data": part_data})
    try:
        parser.write(body)
        parser.finalize()
    except Exception as err:  # python-multipart raises its own error types for malformed forms
        raise RequestError(400, "bad_form", f"could not parse the multipart/form-data body: {err}") from err
    named, with_file = None, None
    for part in parts:
        _, disposition = parse_options_header(part["headers"].get(b"content-disposition", b""))
        if named is None and disposition.get(b"name", b"").decode("latin-1") == field:
            named = part
        if with_file is None and b"filename" in disposition:
            with_file = part
    chosen = named or with_file
    if chosen is None:
        raise RequestError(400, "no_file", f"the form has no part named {field!r} holding the image")
    return bytes(chosen["data"])
