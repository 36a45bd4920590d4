"""multipart/form-data bodies as the providers post them, parsed by Starlette's real form
parser (the one the API's routers use)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import Message


def multipart(
    fields: list[tuple[str, bytes]],
    files: list[tuple[str, str, str, bytes]] = (),  # type: ignore[assignment]
) -> tuple[bytes, str]:
    """(body, content type) of a form with ``fields`` (name, raw value bytes) and
    ``files`` (field name, file name, content type, data)."""
    boundary = "----provider" + secrets.token_hex(8)
    out = b""
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value + b"\r\n"
    for name, filename, content_type, data in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


@asynccontextmanager
async def parse_form(body: bytes, content_type: str) -> AsyncIterator[FormData]:
    """The form as the API would see it (closed, with its spooled files, on exit)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    request = Request(scope, receive)
    form = await request.form(max_part_size=16 * 1024 * 1024)
    try:
        yield form
    finally:
        await form.close()
