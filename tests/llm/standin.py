"""A stand-in for the paid LLM APIs, which this machine cannot reach: a real HTTP server on
loopback that speaks the OpenAI chat-completions and Anthropic Messages wire formats.

It answers the way those APIs shape answers (a forced tool call becomes ``tool_calls`` /
a ``tool_use`` block, ``response_format`` becomes JSON message content), checks the request
fields the real APIs require, and records every request so tests can inspect the prompts.
What it answers is scripted per test: the structured answer, plain text, a delay, a status,
which structured-output modes it refuses and how (``LLAMA_CPP_PYTHON`` refuses json_schema the
way llama-cpp-python's server does), and whether to stream. While it delays it watches the
connection, and counts the clients that went away (``disconnects``): that is how a test sees
that an abandoned request was really closed, not left running.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Script:
    # The structured answer: a dict is sent as JSON; a str is sent as-is (to script bad JSON).
    answer: dict[str, Any] | str | None = None
    # The answer to a plain (non-structured) request.
    text: str = ""
    delay: float = 0.0
    status: int = 200
    # Sent verbatim instead of a well-formed response (to script a broken envelope).
    raw_body: str | None = None
    # OpenAI only: answer a tools request with plain content, as servers ignoring tools do.
    ignore_tools: bool = False
    # The body sent with a scripted error status.
    error_body: str = '{"error": {"message": "scripted error"}}'
    # OpenAI only: structured-output modes ("json_schema", "json_object", "tools") this server
    # refuses, with the status and body it refuses them with.
    refuses: dict[str, tuple[int, str]] = field(default_factory=dict)
    # OpenAI only: seconds between the events of a streamed answer.
    stream_gap: float = 0.0


# llama-cpp-python's server: its request model types response_format as text | json_object
# (llama_cpp/server/types.py), and its route error handler answers any exception, the request's
# validation error included, with HTTP 500 and the error's text (llama_cpp/server/errors.py).
# The body is shaped like that; the exact wording depends on its FastAPI/pydantic versions.
LLAMA_CPP_PYTHON: dict[str, tuple[int, str]] = {
    "json_schema": (
        500,
        json.dumps(
            {
                "error": {
                    "message": "[{'type': 'literal_error', 'loc': ('body', 'response_format', "
                    "'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
                    "'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}]",
                    "type": "internal_server_error",
                    "param": None,
                    "code": None,
                }
            }
        ),
    )
}


@dataclass
class StandIn:
    url: str
    script: Script = field(default_factory=Script)
    received: list[Received] = field(default_factory=list)
    # Clients that closed the connection while the server was still working on their answer.
    disconnects: int = 0

    def reset(self) -> None:
        self.script = Script()
        self.received.clear()
        self.disconnects = 0

    def wait_for_disconnects(self, n: int, within: float = 3.0) -> bool:
        end = time.monotonic() + within
        while self.disconnects < n and time.monotonic() < end:
            time.sleep(0.01)
        return self.disconnects >= n


def structured_mode(body: dict[str, Any]) -> str | None:
    """Which structured-output mode an OpenAI request asks for, if any."""
    if body.get("tools"):
        return "tools"
    fmt = body.get("response_format")
    return str(fmt.get("type")) if isinstance(fmt, dict) else None


def _openai(body: dict[str, Any], script: Script) -> tuple[int, dict[str, Any]]:
    if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
        return 400, {"error": {"message": "model and messages are required"}}
    mode = structured_mode(body)
    if mode in script.refuses:
        status, refusal = script.refuses[mode]
        return status, json.loads(refusal)
    answer = script.answer if isinstance(script.answer, str) else json.dumps(script.answer)
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "stop"
    tools = body.get("tools")
    if tools and not script.ignore_tools:
        names = [t["function"]["name"] for t in tools if t.get("type") == "function"]
        choice = body.get("tool_choice")
        if not isinstance(choice, dict) or choice.get("function", {}).get("name") not in names:
            return 400, {"error": {"message": "tool_choice must name one of the tools"}}
        message["tool_calls"] = [
            {
                "id": "call_standin_1",
                "type": "function",
                "function": {"name": choice["function"]["name"], "arguments": answer},
            }
        ]
        finish = "tool_calls"
    elif tools or body.get("response_format"):
        fmt = body.get("response_format") or {}
        if fmt and fmt.get("type") not in ("json_schema", "json_object", "text"):
            return 400, {"error": {"message": "unsupported response_format"}}
        message["content"] = answer
    else:
        message["content"] = script.text
    return 200, {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _anthropic(
    body: dict[str, Any], headers: dict[str, str], script: Script
) -> tuple[int, dict[str, Any]]:
    if "anthropic-version" not in headers:
        return 400, {"type": "error", "error": {"type": "invalid_request_error"}}
    if not isinstance(body.get("max_tokens"), int) or not isinstance(body.get("messages"), list):
        return 400, {"type": "error", "error": {"type": "invalid_request_error"}}
    tools = body.get("tools")
    if tools:
        choice = body.get("tool_choice") or {}
        if choice.get("type") != "tool" or choice.get("name") not in [t["name"] for t in tools]:
            return 400, {"type": "error", "error": {"type": "invalid_request_error"}}
        # A string answer stands for a model that put prose where the tool input should be.
        content: list[dict[str, Any]] = [
            {
                "type": "tool_use",
                "id": "toolu_standin",
                "name": choice["name"],
                "input": script.answer,
            }
        ]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": script.text}]
        stop = "end_turn"
    return 200, {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": content,
        "stop_reason": stop,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def _chunks(out: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat completion as the events of a streamed one: the role, then the content or the
    tool call's arguments a few characters at a time, then the finish reason."""
    message = out["choices"][0]["message"]
    base = {"id": out["id"], "object": "chat.completion.chunk", "model": out["model"]}

    def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [event({"role": "assistant", "content": ""})]
    for call in message.get("tool_calls") or []:
        args = call["function"]["arguments"]
        head = {"index": 0, "id": call["id"], "type": "function"}
        events.append(
            event(
                {
                    "tool_calls": [
                        head | {"function": {"name": call["function"]["name"], "arguments": ""}}
                    ]
                }
            )
        )
        events += [
            event({"tool_calls": [{"index": 0, "function": {"arguments": args[i : i + 7]}}]})
            for i in range(0, len(args), 7)
        ]
    content = message.get("content") or ""
    events += [event({"content": content[i : i + 7]}) for i in range(0, len(content), 7)]
    events.append(event({}, out["choices"][0]["finish_reason"]))
    return events


def start() -> tuple[StandIn, ThreadingHTTPServer, threading.Thread]:
    state = StandIn(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def _client_gone(self) -> bool:
            """The client closed its end (a readable socket with nothing to read)."""
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        def _wait(self, seconds: float) -> bool:
            """Work for ``seconds`` as a model would; False (and counted) if the client left."""
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if self._client_gone():
                    state.disconnects += 1
                    return False
                time.sleep(0.01)
            return True

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, json.dumps({"error": {"message": "body is not JSON"}}))
                return
            state.received.append(Received(self.path, headers, body))
            script = state.script
            if script.delay and not self._wait(script.delay):
                return  # abandoned: like a server that notices, stop working on it
            if script.status != 200:
                self._send(script.status, script.error_body)
                return
            if script.raw_body is not None:
                self._send(200, script.raw_body)
                return
            if self.path == "/v1/chat/completions":
                status, out = _openai(body, script)
                if status == 200 and body.get("stream"):
                    self._stream(_chunks(out), script.stream_gap)
                    return
            elif self.path == "/v1/messages":
                status, out = _anthropic(body, headers, script)
            else:
                status, out = 404, {"error": {"message": f"no route {self.path}"}}
            self._send(status, json.dumps(out))

        def _stream(self, events: list[dict[str, Any]], gap: float) -> None:
            # HTTP/1.0 without a length: the body ends when the server closes the connection.
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                # A keep-alive comment, as llama-cpp-python's server sends (": ping").
                self.wfile.write(b": ping\n\n")
                for event in events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                    if gap and not self._wait(gap):
                        return
                self.wfile.write(b"data: [DONE]\n\n")
            except (BrokenPipeError, ConnectionResetError):
                state.disconnects += 1

        def _send(self, status: int, text: str) -> None:
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests): nothing to answer to

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="llm-standin", daemon=True)
    thread.start()
    return state, server, thread
