"""Dicts from the CLI -> typed messages, with the SDK's rules: unknown message types are skipped
(None), a message that lacks a field its type requires raises MessageParseError."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, cast

from ._errors import MessageParseError
from .types import (
    AssistantMessage,
    ContentBlock,
    ConversationResetMessage,
    DeferredToolUse,
    HookEventMessage,
    Message,
    MessageOrigin,
    MirrorErrorMessage,
    RateLimitEvent,
    RateLimitInfo,
    ResultMessage,
    ServerToolResultBlock,
    ServerToolUseBlock,
    StreamEvent,
    SystemMessage,
    TaskNotificationMessage,
    TaskProgressMessage,
    TaskStartedMessage,
    TaskUpdatedMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)


def _origin(d: Dict[str, Any]) -> Optional[MessageOrigin]:
    o = d.get("origin")
    return cast(MessageOrigin, o) if isinstance(o, dict) and isinstance(o.get("kind"), str) else None


def _blocks(raw: List[Any], d: Dict[str, Any], assistant: bool) -> List[ContentBlock]:
    out: List[ContentBlock] = []
    for b in raw:
        if not isinstance(b, dict):
            raise MessageParseError(f"Invalid content block (expected dict, got {type(b).__name__})", d)
        t = b["type"]
        if t == "text":
            out.append(TextBlock(text=b["text"]))
        elif t == "tool_use":
            out.append(ToolUseBlock(id=b["id"], name=b["name"], input=b["input"]))
        elif t == "tool_result":
            out.append(ToolResultBlock(tool_use_id=b["tool_use_id"], content=b.get("content"), is_error=b.get("is_error")))
        elif assistant and t == "thinking":
            out.append(ThinkingBlock(thinking=b["thinking"], signature=b["signature"]))
        elif assistant and t == "server_tool_use":
            out.append(ServerToolUseBlock(id=b["id"], name=b["name"], input=b["input"]))
        elif assistant and t == "advisor_tool_result":
            out.append(ServerToolResultBlock(tool_use_id=b["tool_use_id"], content=b["content"]))
    return out


def _user(d: Dict[str, Any]) -> UserMessage:
    content = d["message"]["content"]
    return UserMessage(
        content=_blocks(content, d, False) if isinstance(content, list) else content,
        uuid=d.get("uuid"),
        parent_tool_use_id=d.get("parent_tool_use_id"),
        tool_use_result=d.get("tool_use_result"),
        origin=_origin(d),
    )


def _assistant(d: Dict[str, Any]) -> AssistantMessage:
    m = d["message"]
    content = m["content"]
    if not isinstance(content, list):
        raise MessageParseError(f"Invalid assistant content (expected list, got {type(content).__name__})", d)
    return AssistantMessage(
        content=_blocks(content, d, True),
        model=m["model"],
        parent_tool_use_id=d.get("parent_tool_use_id"),
        error=d.get("error"),
        usage=m.get("usage"),
        message_id=m.get("id"),
        stop_reason=m.get("stop_reason"),
        session_id=d.get("session_id"),
        uuid=d.get("uuid"),
        user_message_uuid=d.get("user_message_uuid"),
        user_message_uuids=d.get("user_message_uuids"),
    )


def _system(d: Dict[str, Any]) -> SystemMessage:
    sub = d["subtype"]
    if sub in ("hook_started", "hook_response"):
        name = d.get("hook_event") or d.get("hook_name") or d.get("hook_event_name") or ""
        return HookEventMessage(subtype=sub, data=d, hook_event_name=name, session_id=d.get("session_id"), uuid=d.get("uuid"))
    if sub == "task_started":
        return TaskStartedMessage(
            subtype=sub, data=d, task_id=d["task_id"], description=d["description"], uuid=d["uuid"],
            session_id=d["session_id"], tool_use_id=d.get("tool_use_id"), task_type=d.get("task_type"),
        )
    if sub == "task_progress":
        return TaskProgressMessage(
            subtype=sub, data=d, task_id=d["task_id"], description=d["description"], usage=d["usage"], uuid=d["uuid"],
            session_id=d["session_id"], tool_use_id=d.get("tool_use_id"), last_tool_name=d.get("last_tool_name"),
        )
    if sub == "task_notification":
        return TaskNotificationMessage(
            subtype=sub, data=d, task_id=d["task_id"], status=d["status"], output_file=d["output_file"],
            summary=d["summary"], uuid=d["uuid"], session_id=d["session_id"], tool_use_id=d.get("tool_use_id"),
            usage=d.get("usage"),
        )
    if sub == "task_updated":
        patch = d.get("patch")
        patch = patch if isinstance(patch, dict) else {}
        return TaskUpdatedMessage(
            subtype=sub, data=d, task_id=d.get("task_id", ""), patch=patch, status=patch.get("status"),
            session_id=d.get("session_id"), uuid=d.get("uuid"),
        )
    if sub == "mirror_error":  # made by ccbridge (_mirror.py), not the CLI
        return MirrorErrorMessage(subtype=sub, data=d, key=d.get("key"), error=d.get("error", ""))
    return SystemMessage(subtype=sub, data=d)


def _result(d: Dict[str, Any]) -> ResultMessage:
    deferred = d.get("deferred_tool_use")
    return ResultMessage(
        subtype=d["subtype"],
        duration_ms=d["duration_ms"],
        duration_api_ms=d["duration_api_ms"],
        is_error=d["is_error"],
        num_turns=d["num_turns"],
        session_id=d["session_id"],
        stop_reason=d.get("stop_reason"),
        total_cost_usd=d.get("total_cost_usd"),
        usage=d.get("usage"),
        result=d.get("result"),
        structured_output=d.get("structured_output"),
        model_usage=d.get("modelUsage"),
        permission_denials=d.get("permission_denials"),
        deferred_tool_use=DeferredToolUse(id=deferred["id"], name=deferred["name"], input=deferred["input"]) if deferred else None,
        errors=d.get("errors"),
        api_error_status=d.get("api_error_status"),
        uuid=d.get("uuid"),
        terminal_reason=d.get("terminal_reason"),
        origin=_origin(d),
        user_message_uuid=d.get("user_message_uuid"),
        user_message_uuids=d.get("user_message_uuids"),
    )


def _stream_event(d: Dict[str, Any]) -> StreamEvent:
    return StreamEvent(
        uuid=d["uuid"], session_id=d["session_id"], event=d["event"], parent_tool_use_id=d.get("parent_tool_use_id"),
        user_message_uuid=d.get("user_message_uuid"), user_message_uuids=d.get("user_message_uuids"),
    )


def _rate_limit(d: Dict[str, Any]) -> RateLimitEvent:
    i = d["rate_limit_info"]
    info = RateLimitInfo(
        status=i["status"], resets_at=i.get("resetsAt"), rate_limit_type=i.get("rateLimitType"),
        utilization=i.get("utilization"), overage_status=i.get("overageStatus"),
        overage_resets_at=i.get("overageResetsAt"), overage_disabled_reason=i.get("overageDisabledReason"), raw=i,
    )
    return RateLimitEvent(rate_limit_info=info, uuid=d["uuid"], session_id=d["session_id"])


def _reset(d: Dict[str, Any]) -> ConversationResetMessage:
    return ConversationResetMessage(new_conversation_id=d["new_conversation_id"], uuid=d["uuid"], session_id=d["session_id"])


_PARSERS: Dict[str, Callable[[Dict[str, Any]], Message]] = {
    "assistant": _assistant,
    "user": _user,
    "system": _system,
    "result": _result,
    "stream_event": _stream_event,
    "rate_limit_event": _rate_limit,
    "conversation_reset": _reset,
}


def parse_message(data: Dict[str, Any]) -> Optional[Message]:
    """A typed message, or None for a type this version does not know (newer CLIs)."""
    if not isinstance(data, dict):
        raise MessageParseError(f"Invalid message data type (expected dict, got {type(data).__name__})", data)
    t = data.get("type")
    if not t:
        raise MessageParseError("Message missing 'type' field", data)
    parse = _PARSERS.get(t)
    if parse is None:
        return None
    try:
        return parse(data)
    except KeyError as e:
        raise MessageParseError(f"Missing required field in {t} message: {e}", data) from e
