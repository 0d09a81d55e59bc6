"""The fake provider's CrewAI mode (used by the CrewAI CI stage): native tool calls first,
then the final answer, over real HTTP in OpenAI's chat-completions format."""

from __future__ import annotations

import json
import urllib.request

from tests.fakes.llm import FakeLLM

TOOL = {
    "type": "function",
    "function": {
        "name": "csv_reader",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "max_rows": {"type": "integer"}},
            "required": ["path", "max_rows"],
        },
    },
}


def chat(fake: FakeLLM, messages: list[dict], tools: list[dict] | None = None) -> dict:
    body = {"model": "gpt-4o-mini", "messages": messages, **({"tools": tools} if tools else {})}
    request = urllib.request.Request(  # noqa: S310 - the fake on 127.0.0.1
        fake.openai_base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1
        return json.load(response)["choices"][0]


def test_tools_are_called_with_arguments_from_the_prompt_then_the_task_is_answered():
    with FakeLLM() as fake:
        fake.crew_mode()
        prompt = [
            {
                "role": "user",
                "content": 'Read data/leads.csv with the CSV reader (path "leads.csv").',
            }
        ]  # noqa: E501
        first = chat(fake, prompt, [TOOL])
        assert first["finish_reason"] == "tool_calls"
        (call,) = first["message"]["tool_calls"]
        assert json.loads(call["function"]["arguments"]) == {"path": "leads.csv", "max_rows": 1}
        followed = [
            *prompt,
            first["message"],
            {"role": "tool", "tool_call_id": call["id"], "content": "Columns: name"},
        ]
        second = chat(fake, followed, [TOOL])
        assert second["finish_reason"] == "stop"
        assert second["message"]["content"].startswith("Done: ")
        assert fake.tool_calls[call["id"]]["result"] == "Columns: name"
        # without tools in the request: CrewAI's text format
        text = chat(fake, prompt)["message"]["content"]
        assert text.startswith("Thought: I now know the final answer\nFinal Answer: Done: ")


def test_design_replies_are_unchanged_outside_crew_mode():
    with FakeLLM() as fake:
        content = chat(fake, [{"role": "user", "content": "design"}])["message"]["content"]
        assert json.loads(content)["name"] == "market_watch_crew"
