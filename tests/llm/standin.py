"""A stand-in for the paid LLM APIs, which this machine cannot reach: a real HTTP server on
loopback that speaks the OpenAI chat-completions and Anthropic Messages wire formats.

It answers the way those APIs shape answers (a forced tool call becomes ``tool_calls`` /
a ``tool_use`` block, ``response_format`` becomes JSON message content), checks the request
fields the real APIs require, and records every request so tests can inspect the prompts.
What it answers is scripted per test: the structured answer, plain text, a delay, a status.
"""

from __future__ import annotations

import json
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


@dataclass
class StandIn:
    url: str
    script: Script = field(default_factory=Script)
    received: list[Received] = field(default_factory=list)

    def reset(self) -> None:
        self.script = Script()
        self.received.clear()


def _openai(body: dict[str, Any], script: Script) -> tuple[int, dict[str, Any]]:
    if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
        return 400, {"error": {"message": "model and messages are required"}}
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
        if fmt and fmt.get("type") not in ("json_schema", "json_object"):
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


def start() -> tuple[StandIn, ThreadingHTTPServer, threading.Thread]:
    state = StandIn(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

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
            if script.delay:
                time.sleep(script.delay)
            if script.status != 200:
                self._send(script.status, json.dumps({"error": {"message": "scripted error"}}))
                return
            if script.raw_body is not None:
                self._send(200, script.raw_body)
                return
            if self.path == "/v1/chat/completions":
                status, out = _openai(body, script)
            elif self.path == "/v1/messages":
                status, out = _anthropic(body, headers, script)
            else:
                status, out = 404, {"error": {"message": f"no route {self.path}"}}
            self._send(status, json.dumps(out))

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
