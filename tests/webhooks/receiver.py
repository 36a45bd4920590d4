"""A real webhook receiver on loopback for supportflow's outbound webhooks (issue 16): a small
FastAPI app under uvicorn in the test's event loop, recording each request's headers and raw
body, answering from a script of status codes (then 200)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from tests.helpers import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def event_id(self) -> str:
        return self.headers["supportflow-event-id"]

    @property
    def signature(self) -> str:
        return self.headers["supportflow-signature"]

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


class Receiver:
    """POSTs to ``url`` are recorded; ``script`` lists statuses to answer first (then 200)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/supportflow"
        self.received: list[Received] = []
        self.script: list[int] = []
        # Event ids as requests arrive (before any delay); ``delay`` holds each answer back.
        self.arrived: list[str] = []
        self.delay = 0.0
        app = FastAPI()

        @app.post("/hooks/supportflow")
        async def hook(request: Request) -> Response:
            body = await request.body()
            self.arrived.append(request.headers.get("supportflow-event-id", ""))
            if self.delay:
                await asyncio.sleep(self.delay)
            answer = self.script.pop(0) if self.script else 200
            self.received.append(Received(dict(request.headers), body, answer))
            return Response(status_code=answer)

        self._app = app

    @property
    def delivered(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Receiver]:
        server = uvicorn.Server(
            uvicorn.Config(
                self._app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=2,
            )
        )
        task = asyncio.create_task(server.serve())
        try:
            deadline = asyncio.get_running_loop().time() + 10
            while not server.started:
                if task.done():
                    task.result()
                assert asyncio.get_running_loop().time() < deadline, "receiver did not start"
                await asyncio.sleep(0.02)
            yield self
        finally:
            server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            except TimeoutError:
                server.force_exit = True
                await asyncio.wait_for(task, 5)
