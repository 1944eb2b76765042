"""Request bodies: the media type, the size limit and decompression, each with its own clear 4xx.

The limit applies to the bytes on the wire AND to the decompressed body: a 16 KiB gzip bomb that
inflates to gigabytes is cut off as soon as its output passes the limit, without ever holding
more than the limit in memory. Bodies may come with Content-Length or chunked (Claude Code
2.1.19x posts OTLP chunked); both are read as a stream.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from agent_trace.server.errors import ApiError

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/json-seq"})
PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json` ('' when absent)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"request body exceeds {limit} bytes (after decompression); send smaller batches "
        "or raise AGENT_TRACE_MAX_BODY_BYTES",
    )


class _Inflater:
    """Incremental gzip/zlib/raw-deflate decoding that never produces more than `limit` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.size = 0
        self._d: zlib._Decompress | None = None
        self._wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else 0  # 0: chosen on first bytes

    def _start(self, data: bytes) -> None:
        wbits = self._wbits
        if wbits == 0:
            # HTTP "deflate" means the zlib format, but some clients send raw deflate: the zlib
            # header (CMF/FLG, a multiple of 31) tells them apart.
            zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
        self._d = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data:
            if self._d is None:
                self._start(data)
            assert self._d is not None
            try:
                piece = self._d.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                raise ApiError(
                    400, "invalid_body", f"body is not valid {self.encoding} data: {exc}"
                ) from None
            self.size += len(piece)
            if self.size > self.limit:
                raise too_large(self.limit)
            out.append(piece)
            data = b""
            if self._d.eof and self._d.unused_data and self.encoding == "gzip":
                data = self._d.unused_data  # concatenated gzip members form one body
                self._d = None
        return b"".join(out)

    def finish(self) -> None:
        if self._d is not None and not self._d.eof:
            raise ApiError(400, "invalid_body", f"{self.encoding} body is truncated")


def _inflater(content_encoding: str | None, limit: int) -> _Inflater | None:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return _Inflater("gzip", limit)
    if encoding == "deflate":
        return _Inflater("deflate", limit)
    raise ApiError(
        415,
        "unsupported_media_type",
        f"Content-Encoding {content_encoding!r} is not supported: send gzip, deflate or identity",
        field="Content-Encoding",
    )


async def read_body(
    chunks: AsyncIterator[bytes], content_length: str | None, content_encoding: str | None, limit: int
) -> bytes:
    """The whole decompressed body, or ApiError 400 / 413 / 415."""
    if content_length:
        try:
            declared = int(content_length)
        except ValueError:
            raise ApiError(400, "bad_request", f"Content-Length {content_length!r} is not a number") from None
        if declared > limit:
            raise too_large(limit)
    inflater = _inflater(content_encoding, limit)
    parts: list[bytes] = []
    received = 0
    async for chunk in chunks:
        if not chunk:
            continue
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        parts.append(inflater.feed(chunk) if inflater is not None else chunk)
    if inflater is not None:
        inflater.finish()
    return parts[0] if len(parts) == 1 else b"".join(parts)
