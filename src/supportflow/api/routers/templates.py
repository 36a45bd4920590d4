"""The merchant's reply wording: list, replace and reset templates. The API key or any
operator of the tenant reads them; changing them needs the edit_templates permission."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanEditTemplates, StateDep, TenantReader
from supportflow.replies.overrides import (
    MAX_TEMPLATE_CHARS,
    InvalidTemplate,
    TemplateStore,
    UnknownTemplateName,
    variables,
)

router = APIRouter(tags=["templates"])

TemplateName = Annotated[str, Path(pattern=r"^[a-z_]{1,64}$")]


class TemplateOut(BaseModel):
    name: str
    default: str
    override: str | None
    variables: list[str]


class TemplateIn(BaseModel):
    source: str = Field(max_length=MAX_TEMPLATE_CHARS)


@router.get("/v1/templates", response_model=list[TemplateOut])
async def list_templates(who: TenantReader, state: StateDep) -> list[TemplateOut]:
    views = await run_in_threadpool(TemplateStore(state.sessions).list, who.tenant_id)
    return [
        TemplateOut(
            name=v.name,
            default=v.default,
            override=v.override,
            variables=sorted(variables(v.default)),
        )
        for v in views
    ]


@router.put("/v1/templates/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def put_template(
    name: TemplateName, body: TemplateIn, who: CanEditTemplates, state: StateDep
) -> Response:
    try:
        await run_in_threadpool(TemplateStore(state.sessions).put, who.tenant_id, name, body.source)
    except UnknownTemplateName as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no reply template {name!r}") from err
    except InvalidTemplate as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    await audit_change(state, who, "template.update", target=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/v1/templates/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def reset_template(name: TemplateName, who: CanEditTemplates, state: StateDep) -> Response:
    try:
        await run_in_threadpool(TemplateStore(state.sessions).delete, who.tenant_id, name)
    except UnknownTemplateName as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no reply template {name!r}") from err
    await audit_change(state, who, "template.reset", target=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
