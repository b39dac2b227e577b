"""ccbridge: Claude Code from Python through a C++ engine, with the official claude-agent-sdk's API.

    from ccbridge import query, ClaudeAgentOptions, AssistantMessage, TextBlock
    for message in query(prompt="What is 2 + 2?", options=ClaudeAgentOptions(max_turns=1)):
        ...
"""

from __future__ import annotations

import atexit

from . import _ccbridge
from ._errors import (
    ClaudeSDKError,
    CLIConnectionError,
    CLIJSONDecodeError,
    CLINotFoundError,
    ControlTimeoutError,
    InvalidOptionError,
    MessageParseError,
    ProcessError,
    ResultError,
)
from ._engine import close_all
from ._mcp import SdkMcpServer, SdkMcpTool, ToolAnnotations, create_sdk_mcp_server, tool
from .client import ClaudeSDKClient
from .mcp_client import McpCallResult, McpClient, McpInitializeResult, McpServerSpec, McpTool
from .query import Query, query
from .sessions import (
    ForkSessionResult,
    SDKSessionInfo,
    SessionMessage,
    delete_session,
    fork_session,
    get_session_info,
    get_session_messages,
    get_subagent_messages,
    list_sessions,
    list_subagents,
    project_key_for_directory,
    rename_session,
    tag_session,
)
from . import sessions as _sessions
# SessionStore helpers (the types come with ccbridge.types below).
from .session_store import (
    InMemorySessionStore,
    delete_session_via_store,
    fold_session_summary,
    fork_session_via_store,
    get_session_info_from_store,
    get_session_messages_from_store,
    get_subagent_messages_from_store,
    import_session_to_store,
    list_sessions_from_store,
    list_subagents_from_store,
    rename_session_via_store,
    tag_session_via_store,
)
from . import session_store as _session_store
from .terminal import Terminal, TerminalExit
from .types import *  # noqa: F401,F403 - the SDK exports its types at the top level
from . import types as _types

__version__ = _ccbridge.__version__

# Stop calling into Python from C++ threads once the interpreter starts to go away; runs and
# sessions still open are closed by their owners' finalizers or, at the latest, by the engine's
# own shutdown, which ends every CLI process group.
def _at_exit() -> None:
    close_all()
    _ccbridge._mark_exiting()


atexit.register(_at_exit)

__all__ = [
    "__version__", "query", "Query", "ClaudeSDKClient", "tool", "create_sdk_mcp_server", "SdkMcpTool", "SdkMcpServer",
    "ToolAnnotations", "ClaudeSDKError", "CLIConnectionError", "CLINotFoundError", "ProcessError", "ResultError",
    "CLIJSONDecodeError", "MessageParseError", "ControlTimeoutError", "InvalidOptionError", "Terminal", "TerminalExit",
    "McpClient", "McpServerSpec", "McpTool", "McpCallResult", "McpInitializeResult",
] + _sessions.__all__
__all__ += [n for n in _session_store.__all__ if n not in _session_store.TYPES]
__all__ += _types.__all__
