"""Where a JSON log line learns its ids (logs.py asks these sources for each line): the HTTP
request's id in the API, the workflow id, run id and activity type inside an activity. Ids
only, never inputs. (Workflow code logs through ``workflow.logger``, whose records carry the
workflow's ids themselves.)"""

from __future__ import annotations

from collections.abc import Mapping

from temporalio import activity

from supportflow.api.request_context import current_request
from supportflow.logs import add_context_source


def request_fields() -> Mapping[str, str]:
    ctx = current_request()
    return {"request_id": ctx.request_id} if ctx is not None else {}


def activity_fields() -> Mapping[str, str]:
    if not activity.in_activity():
        return {}
    info = activity.info()
    fields = {"activity": info.activity_type}
    if info.workflow_id:
        fields["workflow_id"] = info.workflow_id
    if info.workflow_run_id:
        fields["run_id"] = info.workflow_run_id
    return fields


def register() -> None:
    add_context_source(request_fields)
    add_context_source(activity_fields)
