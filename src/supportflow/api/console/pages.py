"""The console's pages: login, inbox, conversation, approvals, audit and settings.

Each page is a Jinja2 template rendered with who is signed in (the nav shows their email and
role; the page hides actions their role lacks, as a courtesy: the API checks every action
again). A visitor without a live session is sent to /console/login. The data itself is
fetched by console.js from the JSON API with the session cookie and the CSRF header, so the
server renders no customer data into the HTML, and nothing here widens what the API allows.

Pages carry no inline script or style: the Content-Security-Policy (api/headers.py) allows
only this origin's files, which are served from /console/static/ with a content hash in the
URL so a browser may keep them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Cookie, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from supportflow.api.console import metrics_view  # management agent (issue 14)
from supportflow.api.deps import StateDep
from supportflow.api.operator_auth import SESSION_COOKIE
from supportflow.api.state import ApiState
from supportflow.operators.accounts import UnknownOperator, get_operator
from supportflow.operators.credentials import csrf_token_for
from supportflow.operators.permissions import Permission, Role, allows
from supportflow.operators.sessions import session_for

router = APIRouter(prefix="/console", include_in_schema=False)

_STATIC_TYPES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
SETTINGS_SECTIONS = ("policy", "templates", "knowledge", "operators")
# Pages show what an operator is working on: never kept by a browser or a proxy.
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Viewer:
    """The signed-in operator, as a page needs them."""

    tenant_id: str
    operator_id: str
    email: str
    role: str
    permissions: frozenset[str]
    csrf_token: str
    # What this operator may approve, in words, for the approvals page.
    approval_scope: str

    def can(self, permission: Permission) -> bool:
        return permission.value in self.permissions


@cache
def _static(name: str) -> tuple[bytes, str]:
    """A static file's bytes and a short hash of them (the cache-busting URL part)."""
    body = resources.files("supportflow.api.console").joinpath("static", name).read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/console/static/{name}?v={_static(name)[1]}"


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("supportflow.api.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = static_url
    return env


def _render(template: str, **context: Any) -> HTMLResponse:
    html = _env().get_template(template).render(**context)
    return HTMLResponse(html, headers=_NO_STORE)


def _viewer_for(state: ApiState, cookie: str) -> Viewer | None:
    """The operator behind a session cookie; None when it is unknown, ended or expired."""
    match = session_for(state.sessions, cookie)
    if match is None:
        return None
    who = match.principal
    if who.operator_id is None:
        return None
    try:
        view = get_operator(state.sessions, who.tenant_id, who.operator_id)
    except UnknownOperator:
        return None
    return Viewer(
        tenant_id=who.tenant_id,
        operator_id=view.operator_id,
        email=view.email,
        role=who.role.value,
        permissions=frozenset(p.value for p in Permission if who.can(p)),
        csrf_token=csrf_token_for(cookie),
        approval_scope=approval_scope(who.role, who.approval_limit),
    )


def approval_scope(role: Role, limit: Decimal | None) -> str:
    """The operator's approval rights in a sentence (operators/permissions.may_approve)."""
    if not allows(role, Permission.APPROVE):
        return "Your role does not approve requests."
    if role is Role.ADMIN or (role is Role.SUPERVISOR and limit is None):
        return "You can approve any amount."
    if limit is None:
        return "You can approve requests that move no money."
    return f"You can approve up to {limit:,.2f}."


async def _viewer(state: ApiState, cookie: str | None) -> Viewer | None:
    if not cookie or len(cookie) > 200:
        return None
    return await run_in_threadpool(_viewer_for, state, cookie)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(
        f"/console/login?next={quote(target, safe='')}",
        status.HTTP_303_SEE_OTHER,
        headers=_NO_STORE,
    )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console page of this site only (never an open
    redirect to another host)."""
    if target and target.startswith("/console/") and not any(c in target for c in "\\\r\n"):
        return target
    return "/console/inbox"


SessionCookie = Annotated[str | None, Cookie(alias=SESSION_COOKIE)]


async def _page(
    request: Request, state: ApiState, cookie: str | None, template: str, **context: Any
) -> Response:
    viewer = await _viewer(state, cookie)
    if viewer is None:
        return _to_login(request)
    return _render(template, viewer=viewer, Permission=Permission, **context)


@router.get("")
@router.get("/")
async def console_home() -> RedirectResponse:
    return RedirectResponse("/console/inbox", status.HTTP_303_SEE_OTHER)


@router.get("/login")
async def login_page(
    state: StateDep,
    sf_session: SessionCookie = None,
    next: Annotated[str | None, Query(max_length=500)] = None,
    tenant: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    target = safe_next(next)
    if await _viewer(state, sf_session) is not None:
        return RedirectResponse(target, status.HTTP_303_SEE_OTHER, headers=_NO_STORE)
    return _render("login.html", next=target, tenant=tenant or "")


@router.get("/inbox")
async def inbox_page(
    request: Request, state: StateDep, sf_session: SessionCookie = None
) -> Response:
    return await _page(request, state, sf_session, "inbox.html", active="inbox")


@router.get("/conversations/{customer_id}")
async def conversation_page(
    request: Request,
    state: StateDep,
    customer_id: Annotated[str, Path(pattern=r"^c_[0-9a-f]{16}$")],
    sf_session: SessionCookie = None,
) -> Response:
    return await _page(
        request, state, sf_session, "conversation.html", active="inbox", customer_id=customer_id
    )


@router.get("/approvals")
async def approvals_page(
    request: Request, state: StateDep, sf_session: SessionCookie = None
) -> Response:
    return await _page(request, state, sf_session, "approvals.html", active="approvals")


@router.get("/audit")
async def audit_page(
    request: Request, state: StateDep, sf_session: SessionCookie = None
) -> Response:
    return await _page(request, state, sf_session, "audit.html", active="audit")


# --- management agent (issue 14): the Metrics page, figures and charts drawn on the server
# (aggregates only, no customer data) ---------------------------------------------------------
@router.get("/metrics")
async def metrics_page(
    request: Request,
    state: StateDep,
    sf_session: SessionCookie = None,
    span: Annotated[str, Query(alias="range", pattern=r"^(24h|7d|30d)$")] = "7d",
) -> Response:
    viewer = await _viewer(state, sf_session)
    if viewer is None:
        return _to_login(request)
    page = await run_in_threadpool(
        metrics_view.metrics_page, state.sessions, viewer.tenant_id, span
    )
    return _render(
        "metrics.html",
        viewer=viewer,
        Permission=Permission,
        active="metrics",
        m=page,
        ranges=metrics_view.RANGES,
        can_lift=viewer.role in (Role.SUPERVISOR.value, Role.ADMIN.value),
    )


# --- end management agent ---------------------------------------------------------------------


@router.get("/settings")
async def settings_home() -> RedirectResponse:
    return RedirectResponse("/console/settings/policy", status.HTTP_303_SEE_OTHER)


@router.get("/settings/{section}")
async def settings_page(
    request: Request, state: StateDep, section: str, sf_session: SessionCookie = None
) -> Response:
    if section not in SETTINGS_SECTIONS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no settings page {section!r}")
    return await _page(
        request,
        state,
        sf_session,
        f"settings_{section}.html",
        active="settings",
        section=section,
        sections=SETTINGS_SECTIONS,
    )


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    if name not in _STATIC_TYPES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    body, _digest = _static(name)
    # The URL carries the content hash, so a browser may keep a copy for a long time.
    return Response(
        body,
        media_type=_STATIC_TYPES[name],
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
