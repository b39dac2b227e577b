"""ClaudeSDKClient: one Claude Code process for a whole conversation, with the official SDK's
methods (connect, query, receive_messages, receive_response, interrupt, set_permission_mode,
set_model, rewind_files, reconnect_mcp_server, toggle_mcp_server, stop_task, get_mcp_status,
get_context_usage, get_server_info, disconnect; async with)."""

from __future__ import annotations

import json
from collections import deque
from typing import Any, AsyncIterable, AsyncIterator, Deque, Dict, Optional, Union

from ._aio import Loop, finally_in_thread, in_thread
from ._engine import BATCH, TRANSPORT_REFUSED, Prepared, Tracker, call, convert, is_result, mirror_errors, text
from ._errors import CLIConnectionError
from ._session_resume import StoreRun
from .query import send_user_message
from .types import ClaudeAgentOptions, Message, ResultMessage


class ClaudeSDKClient:
    """Every method that waits runs the engine on a worker thread, so the event loop (asyncio or
    trio) stays free; callbacks (can_use_tool, hooks, tools) run on the loop the client was
    connected from."""

    def __init__(self, options: Optional[ClaudeAgentOptions] = None, transport: Any = None):
        if transport is not None:
            raise NotImplementedError(TRANSPORT_REFUSED)
        self.options = options or ClaudeAgentOptions()
        self._session: Any = None
        self._pending: Deque[Any] = deque()  # engine items taken but not yet handed out
        self._tracker = Tracker()
        self._store: Optional[StoreRun] = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await in_thread(call, fn, *args)

    def _live(self) -> Any:
        if self._session is None:
            raise CLIConnectionError("Not connected. Call connect() first.")
        return self._session

    async def connect(self, prompt: Union[str, AsyncIterable[Dict[str, Any]], None] = None) -> None:
        """Starts the CLI and waits for its initialize answer; sends `prompt` if given."""
        if self._session is not None:
            return
        store = StoreRun(self.options)
        options = await store.start()  # a resume from session_store: written out for the CLI
        try:
            prep = Prepared(options, loop=Loop())
            self._tracker = Tracker(options)
            self._session = await in_thread(prep.open_session)
        except BaseException:
            await store.end(None)
            raise
        self._store = store
        if prompt is not None:
            await self.query(prompt)

    async def query(self, prompt: Union[str, AsyncIterable[Dict[str, Any]]], session_id: str = "default") -> None:
        """Sends a new message (a turn starts, or it is queued behind the current one)."""
        s = self._live()
        if isinstance(prompt, str):
            await self._run(s.send, text(prompt, "the prompt"))
        else:
            async for message in prompt:
                await in_thread(send_user_message, s, message)

    async def receive_messages(self) -> AsyncIterator[Message]:
        """Every message, until the CLI exits."""
        s = self._live()
        mirror = self._store.mirror if self._store is not None else None
        while True:
            while self._pending:
                item = self._pending.popleft()
                self._tracker.observe(item)
                if mirror is not None:
                    if is_result(item):
                        await mirror.flush(s)  # whoever sees the result finds the turn in the store
                    for e in mirror_errors(mirror):
                        yield e
                m = convert(item)
                if m is not None:
                    yield m
            batch = call(s.next_batch, BATCH, 0.0)  # what is there already, without a thread hop
            if batch == []:
                # A bounded wait: a cancelled receiver leaves it to end by itself.
                batch = await in_thread(call, s.next_batch, BATCH, 0.25, abandon=True)
            if mirror is not None:
                if batch is None:
                    await mirror.flush(s)
                    for e in mirror_errors(mirror):
                        yield e
                else:
                    mirror.take(s)
            if batch is None:
                return
            self._pending.extend(batch)

    async def receive_response(self) -> AsyncIterator[Message]:
        """Messages up to and including the next ResultMessage."""
        async for m in self.receive_messages():
            yield m
            if isinstance(m, ResultMessage):
                return

    async def interrupt(self) -> None:
        await self._run(self._live().interrupt)

    async def set_permission_mode(self, mode: str) -> None:
        await self._run(self._live().set_permission_mode, mode)

    async def set_model(self, model: Optional[str] = None) -> None:
        await self._run(self._live().set_model, model)

    async def rewind_files(self, user_message_id: str) -> None:
        """Restores the files to their state at that user message (its uuid); needs
        enable_file_checkpointing (and extra_args={"replay-user-messages": None} to see the uuids)."""
        await self._run(self._live().rewind_files, user_message_id)

    async def reconnect_mcp_server(self, server_name: str) -> None:
        await self._run(self._live().reconnect_mcp_server, server_name)

    async def toggle_mcp_server(self, server_name: str, enabled: bool) -> None:
        await self._run(self._live().toggle_mcp_server, server_name, enabled)

    async def stop_task(self, task_id: str) -> None:
        """Stops a background task; a TaskUpdatedMessage with a terminal status follows."""
        await self._run(self._live().stop_task, task_id)

    async def get_mcp_status(self) -> Dict[str, Any]:
        status: Dict[str, Any] = await self._run(self._live().control, "mcp_status", "{}", None)
        return status

    async def get_context_usage(self) -> Dict[str, Any]:
        usage: Dict[str, Any] = await self._run(self._live().control, "get_context_usage", "{}", None)
        return usage

    async def get_server_info(self) -> Optional[Dict[str, Any]]:
        info: Optional[Dict[str, Any]] = self._live().server_info()
        return info

    async def control(self, subtype: str, fields: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None) -> Any:
        """Any control request (ccbridge extension); returns the CLI's response payload."""
        return await self._run(self._live().control, subtype, json.dumps(fields or {}), timeout)

    async def disconnect(self) -> None:
        """Ends the conversation: the CLI gets EOF and time to save its session, then the ladder."""
        s, self._session = self._session, None
        store, self._store = self._store, None
        self._pending.clear()
        if s is not None:
            await finally_in_thread(s.close)  # completes even in a task being cancelled
        if store is not None:
            await store.end(s)  # the CLI is gone: its last frames, the resume's directory removed

    async def __aenter__(self) -> "ClaudeSDKClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> bool:
        await self.disconnect()
        return False
