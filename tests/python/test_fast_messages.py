"""Assistant messages made by the engine (bindings/python/src/py_messages.hpp) are exactly what the
package's reference parser (_parse.py) makes of the same line: for every recorded transcript and
for irregular lines, which must reach the reference parser and raise its errors."""

import glob
import json
import os

import pytest

from ccbridge import AssistantMessage, MessageParseError, query
from ccbridge._parse import parse_message

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPTS = os.path.join(os.path.dirname(HERE), "fixtures", "transcripts")


def replayed(fake_options, path):
    """query()'s messages for a CLI that prints the file, and what _parse.py makes of each line."""
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    # What a run delivers: no control frames, no state frames only the SDK host asked for.
    lines = [d for d in lines if not str(d.get("type", "")).startswith("control_")
             and not (d.get("subtype") == "session_state_changed" and d.get("sdk_host_only") is True)]
    reference = [m for m in map(parse_message, lines) if m is not None]
    got = list(query(prompt="replay", options=fake_options(f"replay {path}")))
    return got, reference


def transcripts_with_assistant_lines():
    out = []
    for path in sorted(glob.glob(os.path.join(TRANSCRIPTS, "*.jsonl"))):
        if path.endswith((".stdin.jsonl", ".timeline.jsonl")):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            continue  # transcripts of broken output are for other tests
        if any(isinstance(d, dict) and d.get("type") == "assistant" for d in lines):
            out.append(path)
    return out


@pytest.mark.parametrize("path", transcripts_with_assistant_lines(), ids=os.path.basename)
def test_every_transcript_gives_what_the_reference_parser_gives(fake_options, path):
    got, reference = replayed(fake_options, path)
    assert [type(m) for m in got] == [type(m) for m in reference]
    assert got == reference
    assert any(isinstance(m, AssistantMessage) for m in got)
    for m, r in zip(got, reference):
        assert vars(m) == vars(r)  # the same attributes, none left to class defaults
        if isinstance(m, AssistantMessage):
            assert [vars(b) for b in m.content] == [vars(b) for b in r.content]


IRREGULAR_BLOCKS = [
    {"type": "text", "text": "plain"},
    {"type": "thinking", "thinking": "hm", "signature": "sig"},
    {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}},
    {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"q": 1}},
    {"type": "advisor_tool_result", "tool_use_id": "s1", "content": {"x": [1, 2]}},
    {"type": "image", "source": {}},  # skipped by the SDK's rules
    {"type": 7},  # not a string: skipped
]


def assistant_line(message, **top):
    return json.dumps({"type": "assistant", "message": message, "session_id": "s", "uuid": "u", **top})


def test_every_block_kind_and_optional_field_matches_the_reference(fake_options, tmp_path):
    lines = [
        assistant_line({"model": "m", "content": IRREGULAR_BLOCKS, "usage": {"input_tokens": 1}, "id": "msg",
                        "stop_reason": "end_turn"}, parent_tool_use_id="p", error="rate_limit",
                        user_message_uuid="uu", user_message_uuids=["a", "b"]),
        assistant_line({"model": "m", "content": []}),
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    got, reference = replayed(fake_options, str(path))
    assert got == reference and [vars(m) for m in got] == [vars(m) for m in reference]
    assert [type(b).__name__ for b in got[0].content] == [
        "TextBlock", "ThinkingBlock", "ToolUseBlock", "ServerToolUseBlock", "ServerToolResultBlock"]


@pytest.mark.parametrize("message, error", [
    ({"content": []}, "Missing required field in assistant message: 'model'"),
    ({"model": "m", "content": "text"}, "Invalid assistant content (expected list, got str)"),
    ({"model": "m", "content": ["x"]}, "Invalid content block (expected dict, got str)"),
    ({"model": "m", "content": [{"type": "text"}]}, "Missing required field in assistant message: 'text'"),
    ({"model": "m", "content": [{"type": "thinking", "thinking": "t"}]},
     "Missing required field in assistant message: 'signature'"),
])
def test_irregular_assistant_lines_raise_the_reference_errors(fake_options, tmp_path, message, error):
    path = tmp_path / "bad.jsonl"
    path.write_text(assistant_line(message) + "\n")
    with pytest.raises(MessageParseError) as got:
        list(query(prompt="replay", options=fake_options(f"replay {path}")))
    with pytest.raises(MessageParseError) as reference:
        parse_message(json.loads(assistant_line(message)))
    assert str(got.value) == str(reference.value) == error
