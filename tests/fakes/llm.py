"""A fake LLM provider over real HTTP for tests and benchmarks.

One threaded ``http.server`` on 127.0.0.1:<free port> speaks enough of both APIs for the
official SDKs: OpenAI ``POST /v1/chat/completions`` and ``GET /v1/models``, Anthropic
``POST /v1/messages`` and ``GET /v1/models`` (told apart by the ``anthropic-version`` header,
which the Anthropic SDK always sends, whichever auth header it uses).
Responses come from a scriptable queue (a design, malformed text, questions, an HTTP error
with optional ``Retry-After``, each with an optional delay); when the queue is empty the
``default`` reply is used (a valid design unless changed). Every request is recorded.

Why not ``fakellm``/``pytest-fakellm`` (once pinned, now removed): they run a uvicorn
subprocess driven by YAML rules, which cannot script "429 with Retry-After, then this exact
design" per request, per-response delays, or header-level assertions, and cost a
subprocess start.

    with FakeLLM() as fake:
        fake.push_error(429, retry_after=2)
        fake.push_design(sample_design())
        ... OpenAI(base_url=fake.openai_base_url, api_key="sk-test") ...
        assert fake.requests[-1].api_key == "sk-test"
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request_error"),
    401: ("invalid_api_key", "authentication_error"),
    403: ("permission_denied", "permission_error"),
    404: ("not_found", "not_found_error"),
    429: ("rate_limit_exceeded", "rate_limit_error"),
    500: ("server_error", "api_error"),
    503: ("service_unavailable", "api_error"),
    529: ("overloaded", "overloaded_error"),
}


def sample_design(name: str = "market_watch_crew") -> dict[str, Any]:
    """A small valid design (two agents, two chained tasks, one placeholder)."""
    return {
        "name": name,
        "title": "Market watch",
        "summary": "Watches a market and writes a weekly report.",
        "process": "sequential",
        "agents": [
            {
                "id": "researcher",
                "role": "Market researcher for {topic}",
                "goal": "Find this week's news about {topic}",
                "backstory": "A careful analyst who always cites sources.",
                "tools": ["web_search"],
                "allow_delegation": False,
            },
            {
                "id": "writer",
                "role": "Report writer",
                "goal": "Write a clear weekly report",
                "backstory": "Writes for busy executives.",
                "tools": ["file_writer"],
                "allow_delegation": False,
            },
        ],
        "tasks": [
            {
                "id": "research_task",
                "description": "Collect the week's most important news about {topic}.",
                "expected_output": "Ten findings with sources.",
                "agent": "researcher",
                "context": [],
            },
            {
                "id": "report_task",
                "description": "Write the weekly report from the findings.",
                "expected_output": "A markdown report.",
                "agent": "writer",
                "context": ["research_task"],
                "output_file": "output/report.md",
            },
        ],
        "inputs": {"topic": "EV batteries"},
        "integrations": [],
    }


@dataclass
class Reply:
    kind: str  # "design" | "fit" | "text" | "questions" | "error" | "crew"
    payload: Any = None
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    on: str = "generate"  # "generate" | "models" | "any"
    input_tokens: int = 1200
    output_tokens: int = 800


@dataclass
class RecordedRequest:
    method: str
    path: str
    api: str  # "openai" | "anthropic"
    headers: dict[str, str]
    body: Any
    api_key: str
    received_at: float


class FakeLLM:
    def __init__(self, *, delay: float = 0.0, model_ids: tuple[str, ...] | None = None):
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._ids = itertools.count(1)
        self.requests: list[RecordedRequest] = []
        self.default: Reply = Reply("design", sample_design())
        self.delay = delay  # added to every response (e.g. fixed provider latency)
        self.valid_keys: set[str] | None = None  # when set, other keys get a 401
        self.model_ids = model_ids or ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # CrewAI mode (Reply("crew")): argument overrides, and the calls/results seen.
        self.crew_args: dict[str, Any] = {}
        self.tool_calls: dict[str, dict[str, Any]] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeLLM:
        handler = type("Handler", (_Handler,), {"fake": self})
        server = _Server(("127.0.0.1", 0), handler)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    # --- scripting -------------------------------------------------------------------------

    def push(self, reply: Reply) -> FakeLLM:
        with self._lock:
            self._queue.append(reply)
        return self

    def push_design(self, design: dict | None = None, *, delay: float = 0.0, **tokens) -> FakeLLM:
        return self.push(Reply("design", design or sample_design(), delay=delay, **tokens))

    def push_text(self, text: str, *, delay: float = 0.0) -> FakeLLM:
        """Content that is not the JSON object asked for (malformed JSON, prose)."""
        return self.push(Reply("text", text, delay=delay))

    def push_questions(self, questions: list[str], *, delay: float = 0.0) -> FakeLLM:
        return self.push(Reply("questions", {"questions": list(questions)}, delay=delay))

    def push_error(
        self,
        status: int,
        *,
        retry_after: float | str | None = None,
        message: str | None = None,
        code: str | None = None,
        delay: float = 0.0,
        on: str = "any",
        headers: dict[str, str] | None = None,
        echo: Callable[[str], str] | None = None,
    ) -> FakeLLM:
        """An HTTP error. ``echo`` builds the error message from the API key the request
        carried (a hostile endpoint echoing the key back in some disguise)."""
        hdrs = dict(headers or {})
        if retry_after is not None:
            hdrs["retry-after"] = str(retry_after)
        payload = {"message": message or f"fake error {status}", "code": code, "echo": echo}
        return self.push(Reply("error", payload, status=status, delay=delay, headers=hdrs, on=on))

    def push_delay(self, seconds: float, reply: Reply | None = None) -> FakeLLM:
        """The next reply (default: a valid design) arrives after ``seconds``."""
        reply = copy.copy(reply or self.default)
        reply.delay = seconds
        return self.push(reply)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next(self, route: str) -> Reply:
        with self._lock:
            for i, reply in enumerate(self._queue):
                if reply.on in (route, "any"):
                    del self._queue[i]
                    return reply
        if route == "models":
            return Reply("models")
        return self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def next_id(self) -> int:
        return next(self._ids)

    def crew_mode(self) -> FakeLLM:
        """Answer every generation request like a model driving CrewAI agents."""
        self.default = Reply("crew")
        return self

    def record_tool_call(self, call_id: str, name: str, args: dict) -> None:
        with self._lock:
            self.tool_calls[call_id] = {"name": name, "args": args, "result": None}

    def record_tool_result(self, call_id: str, text: str) -> None:
        with self._lock:
            if call_id in self.tool_calls and self.tool_calls[call_id]["result"] is None:
                self.tool_calls[call_id]["result"] = text


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # listen() backlog, read in __init__: the default 5 drops SYNs when many clients connect
    # at once, and the kernel's 1 s SYN retransmit then shows up as fake latency.
    request_queue_size = 1024


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLM
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle + delayed ACK
    # would add ~40 ms to every response and swamp what the benchmarks measure.
    disable_nagle_algorithm = True
    server_version = "FakeLLM/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep tests quiet
        return

    # --- plumbing --------------------------------------------------------------------------

    def _api(self) -> str:
        headers = {k.lower() for k in self.headers}
        return "anthropic" if "anthropic-version" in headers or "x-api-key" in headers else "openai"

    def _api_key(self) -> str:
        key = self.headers.get("x-api-key")
        if key:
            return key
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else ""

    def _body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to do

    def _handle(self, method: str) -> None:
        fake = self.fake
        body = self._body() if method == "POST" else None
        api = self._api()
        path = self.path.split("?", 1)[0]
        fake._record(
            RecordedRequest(
                method=method,
                path=path,
                api=api,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                api_key=self._api_key(),
                received_at=time.monotonic(),
            )
        )
        if method == "GET" and path == "/v1/models":
            route = "models"
        elif method == "POST" and path in ("/v1/chat/completions", "/v1/messages"):
            route = "generate"
            api = "anthropic" if path == "/v1/messages" else "openai"
        else:
            self._send(404, {"error": {"message": f"no route {method} {path}"}})
            return
        reply = fake._next(route)
        if reply.kind == "fit":
            reply = copy.copy(reply)
            reply.kind, reply.payload = "design", fitting_design(body or {})
        wait = fake.delay + reply.delay
        if wait > 0:
            time.sleep(wait)
        if fake.valid_keys is not None and self._api_key() not in fake.valid_keys:
            reply = Reply("error", {"message": "Incorrect API key provided"}, status=401)
        if reply.kind == "error":
            echo = reply.payload.get("echo") if isinstance(reply.payload, dict) else None
            if echo is not None:
                reply = copy.copy(reply)
                reply.payload = {**reply.payload, "message": echo(self._api_key())}
            self._send(reply.status, _error_body(api, reply), reply.headers)
        elif route == "models":
            self._send(200, _models_body(api, fake.model_ids))
        elif api == "openai":
            self._send(200, _openai_body(fake, body or {}, reply), reply.headers)
        else:
            self._send(200, _anthropic_body(fake, body or {}, reply), reply.headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        self._handle("POST")


def _error_body(api: str, reply: Reply) -> dict:
    oa_code, an_type = ERROR_TYPES.get(reply.status, ("error", "api_error"))
    message = reply.payload.get("message") if isinstance(reply.payload, dict) else None
    code = reply.payload.get("code") if isinstance(reply.payload, dict) else None
    if api == "anthropic":
        return {"type": "error", "error": {"type": an_type, "message": message}}
    return {"error": {"message": message, "type": oa_code, "param": None, "code": code or oa_code}}


def _models_body(api: str, ids: tuple[str, ...]) -> dict:
    if api == "anthropic":
        data = [
            {
                "id": i,
                "type": "model",
                "display_name": i,
                "created_at": "2025-01-01T00:00:00Z",
            }
            for i in ids
        ]
        return {"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]}
    data = [{"id": i, "object": "model", "created": 0, "owned_by": "fake"} for i in ids]
    return {"object": "list", "data": data}


REQUIREMENT = re.compile(r"^Requirement:\n(.+?)(?:\n\n|\Z)", re.DOTALL | re.MULTILINE)


def fitting_design(request: dict) -> dict[str, Any]:
    """Reply("fit"): the crew the built-in designer makes for the requirement in the design
    prompt (generation/designer.py sends it as "Requirement:\n…"), so a black-box journey
    through the LLM path passes the fit check whatever it asks for; the sample design when
    the prompt holds no requirement."""
    from generation.fallback import fallback_design

    texts = [_message_text(m) for m in request.get("messages") or [] if m.get("role") == "user"]
    match = REQUIREMENT.search(texts[-1]) if texts else None
    if not match:
        return sample_design()
    return fallback_design(requirement=match.group(1).strip()).model_dump(mode="json")


def _content_text(reply: Reply) -> str:
    if reply.kind == "text":
        return str(reply.payload)
    return json.dumps(reply.payload)


# --- CrewAI agents (the CI stage's `crewai run` against this fake) ---------------------------
#
# Reply("crew") answers like a model driving a CrewAI agent: when the request offers tools
# (native tool calling), it calls each offered tool once, in order, with arguments made
# from the tool's JSON schema and hints in the task prompt (file_path "x.csv", URLs); once
# every tool has been called (or when none is offered) it gives the final answer. Without
# tools in the request it answers in CrewAI's text (ReAct) format. ``fake.crew_args`` maps
# an argument name to the value to use (e.g. the URL of a local page); every tool call and
# every tool result CrewAI sends back is recorded in ``fake.tool_calls``.

HINT = re.compile(r'\b(file_path|path)\s+"([^"]+)"')


def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _hint(prompt: str, name: str, seen: str) -> str | None:
    """The file the task prompt names for this argument (``file_path "notes.md"``); a
    ``<name>`` placeholder is filled from a listing an earlier tool call returned."""
    hints = [value for key, value in HINT.findall(prompt) if key == name] or [
        value for _, value in HINT.findall(prompt)
    ]
    if not hints:
        return None
    hint = hints[0]
    if "<name>" in hint:
        prefix = hint.split("<name>")[0]
        found = re.search(re.escape(prefix) + r"([\w.\-]+)", seen)
        hint = prefix + found.group(1) if found else hint
    return hint


def _tool_args(fake: FakeLLM, tool: dict, prompt: str, seen: str = "") -> dict:
    schema = (tool.get("function") or {}).get("parameters") or {}
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    args: dict[str, Any] = {}
    for name, spec in props.items():
        if name in fake.crew_args:
            args[name] = fake.crew_args[name]
        elif name in {"file_path", "path"} and (hint := _hint(prompt, name, seen)):
            args[name] = hint
        elif name in required:
            spec = spec if isinstance(spec, dict) else {}
            kinds = [spec.get("type")] + [o.get("type") for o in spec.get("anyOf") or []]
            kind = next((k for k in kinds if k and k != "null"), None)
            if "null" in kinds and "default" in spec:
                args[name] = spec["default"]
                continue
            if kind == "integer":
                args[name] = 1
            elif kind == "array":
                args[name] = ["triage"]
            elif kind == "boolean":
                args[name] = True
            else:
                args[name] = f"fake {name}"
    return args


def _crew_message(fake: FakeLLM, request: dict) -> tuple[dict, str]:
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    prompt = "\n".join(_message_text(m) for m in messages if m.get("role") in {"system", "user"})
    called = [
        call.get("function", {}).get("name")
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or []
    ]
    for m in messages:
        if m.get("role") == "tool":
            fake.record_tool_result(m.get("tool_call_id", ""), _message_text(m))
    tools = [t for t in request.get("tools") or [] if isinstance(t, dict)]
    pending = [t for t in tools if (t.get("function") or {}).get("name") not in called]
    if pending:
        tool = pending[0]
        name = tool["function"]["name"]
        call_id = f"call_fake{fake.next_id()}"
        seen = "\n".join(_message_text(m) for m in messages if m.get("role") == "tool")
        args = _tool_args(fake, tool, prompt, seen)
        fake.record_tool_call(call_id, name, args)
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
            ],
        }
        return message, "tool_calls"
    answer = f"Done: {' '.join(prompt.split())[:200]}"
    if not tools:
        answer = f"Thought: I now know the final answer\nFinal Answer: {answer}"
    return {"role": "assistant", "content": answer, "refusal": None}, "stop"


def _openai_body(fake: FakeLLM, request: dict, reply: Reply) -> dict:
    if reply.kind == "crew":
        message, finish = _crew_message(fake, request)
        return {
            "id": f"chatcmpl-fake{fake.next_id()}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "gpt-4o-mini"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
    return {
        "id": f"chatcmpl-fake{fake.next_id()}",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "gpt-4o-mini"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _content_text(reply), "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    }


def _anthropic_body(fake: FakeLLM, request: dict, reply: Reply) -> dict:
    tools = [t.get("name") for t in request.get("tools") or [] if isinstance(t, dict)]
    if reply.kind == "text":
        content = [{"type": "text", "text": str(reply.payload)}]
        stop = "end_turn"
    else:
        wanted = "ask_clarifying_questions" if reply.kind == "questions" else None
        name = wanted if wanted in tools else (tools[0] if tools else "submit_crew_design")
        content = [
            {
                "type": "tool_use",
                "id": f"toolu_fake{fake.next_id()}",
                "name": name,
                "input": reply.payload,
            }
        ]
        stop = "tool_use"
    return {
        "id": f"msg_fake{fake.next_id()}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "claude-sonnet-4-5"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }


def main(argv: list[str] | None = None) -> None:
    """Serve the fake as a standalone process (CI's production smoke stage points the
    platform key at it): ``python -m tests.fakes.llm --port-file PATH`` listens on a free
    port of 127.0.0.1, writes the port to PATH once it accepts connections, and answers
    every design request with a crew that fits its requirement (Reply("fit")) until it is
    terminated."""
    import argparse
    import os
    import signal

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args(argv)
    fake = FakeLLM()
    fake.default = Reply("fit")
    fake.start()
    partial = f"{args.port_file}.tmp"
    with open(partial, "w") as out:
        out.write(str(fake.port))
    os.replace(partial, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: fake.stop())
    assert fake._thread is not None
    fake._thread.join()


if __name__ == "__main__":
    main()
