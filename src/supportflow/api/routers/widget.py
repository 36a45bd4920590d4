"""The embeddable chat widget, and /chat: a small demo store page that embeds it.

Merchants add one tag to their pages:
``<script src="https://API/widget.js" data-chat-key="sf_chat_..." async></script>``.
The script is static, the same for every tenant (the key is read from its tag), so it is
cached by browsers and CDNs and revalidated by its ETag.
"""

from __future__ import annotations

import hashlib
import html
import re
from functools import cache
from importlib import resources

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse

from supportflow.tenants.keys import CHAT_KEY_PREFIX

router = APIRouter(tags=["widget"])

# Keys are CHAT_KEY_PREFIX + secrets.token_urlsafe(...): anything else is not a chat key, and
# a value that passes cannot break out of an HTML attribute (escaped all the same).
_CHAT_KEY = re.compile(rf"{re.escape(CHAT_KEY_PREFIX)}[A-Za-z0-9_-]{{1,128}}")
# Long enough that a new release reaches shoppers within minutes, short enough to spare the
# API most requests; a revalidation after that costs a 304.
_WIDGET_CACHE = "public, max-age=600"


def _static(name: str) -> str:
    return resources.files("supportflow.api").joinpath(f"static/{name}").read_text("utf-8")


@cache
def _widget() -> tuple[bytes, str]:
    body = _static("widget.js").encode("utf-8")
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


@router.get("/widget.js", include_in_schema=False)
async def widget_js(request: Request) -> Response:
    body, etag = _widget()
    headers = {
        "Cache-Control": _WIDGET_CACHE,
        "ETag": etag,
        # A merchant may load it with crossorigin= (for Subresource Integrity), or from a page
        # that requires cross-origin resources to opt in (COEP): it is public, so both may.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


def embed_tag(src: str, chat_key: str, *, open_at_start: bool = False) -> str:
    """The script tag a merchant puts in their pages, HTML-escaped."""
    opened = ' data-open="true"' if open_at_start else ""
    return (
        f'<script src="{html.escape(src, quote=True)}" '
        f'data-chat-key="{html.escape(chat_key, quote=True)}"{opened} async></script>'
    )


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
async def demo_store(request: Request, key: str | None = None) -> HTMLResponse:
    """The demo store page `supportflow up` prints (``chat=.../chat?key=...``), embedding the
    widget with that key; its panel starts open, since a visitor comes here to try it."""
    page = _static("chat.html")
    snippet_src = str(request.url_for("widget_js"))
    if not key:
        notice = (
            '<p class="notice">Add <code>?key=</code> and a chat key to this address to try '
            "the chat (the ready line of <code>supportflow up</code> prints one).</p>"
        )
        page = page.replace("<!--sf:notice-->", notice)
        snippet = embed_tag(snippet_src, CHAT_KEY_PREFIX + "...")
    elif _CHAT_KEY.fullmatch(key) is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"key is not a chat key ({CHAT_KEY_PREFIX}...)"
        )
    else:
        page = page.replace("<!--sf:embed-->", embed_tag("/widget.js", key, open_at_start=True))
        snippet = embed_tag(snippet_src, key)
    # The snippet is shown as text: its markup escaped once more.
    return HTMLResponse(page.replace("<!--sf:snippet-->", html.escape(snippet)))
