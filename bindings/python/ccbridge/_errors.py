"""Exceptions, with the official SDK's names and hierarchy.

Every exception ccbridge raises derives from ClaudeSDKError. The C++ engine's error ids
(``cli_not_found``, ``timeout``, ...) are kept on ``.code``.
"""

from __future__ import annotations

from typing import Any


class ClaudeSDKError(Exception):
    """Base of every ccbridge error."""

    code: str = "internal"


class CLIConnectionError(ClaudeSDKError):
    """Claude Code could not be started or the connection to it is gone."""

    code = "closed"


class CLINotFoundError(CLIConnectionError):
    """The Claude Code executable was not found."""

    code = "cli_not_found"

    def __init__(self, message: str = "Claude Code not found", cli_path: str | None = None):
        if cli_path:
            message = f"{message}: {cli_path}"
        super().__init__(message)


class ProcessError(ClaudeSDKError):
    """The CLI process failed (non-zero exit or a signal)."""

    code = "process_failed"

    def __init__(self, message: str, exit_code: int | None = None, stderr: str | None = None):
        self.exit_code = exit_code
        self.stderr = stderr
        if exit_code is not None and exit_code >= 0:
            message = f"{message} (exit code: {exit_code})"
        if stderr:
            message = f"{message}\nError output: {stderr}"
        super().__init__(message)


def normalize_errors(raw: Any) -> list[str]:
    """A result's "errors" as clean strings: a bare string is one error; blanks and non-strings go."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    return [e.strip() for e in raw if isinstance(e, str) and e.strip()]


def _typed(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    return value if isinstance(value, kind) else None


class ResultError(ProcessError):
    """The CLI ended the run with an error result (``is_error`` true) and exited non-zero."""

    def __init__(self, message: str, data: dict[str, Any] | None = None, exit_code: int | None = None):
        data = data if isinstance(data, dict) else {}
        self.data = data
        # Each attribute holds its value only when it has the declared type (else None), as the SDK's.
        self.subtype: str | None = _typed(data, "subtype", str)
        self.errors: list[str] = normalize_errors(data.get("errors"))
        self.result: str | None = _typed(data, "result", str)
        self.api_error_status: int | None = _typed(data, "api_error_status", int)
        self.terminal_reason: str | None = _typed(data, "terminal_reason", str)
        self.session_id: str | None = _typed(data, "session_id", str)
        super().__init__(message, exit_code=exit_code)


class CLIJSONDecodeError(ClaudeSDKError):
    """A line from the CLI could not be used as JSON (bad JSON, bad UTF-8, too long)."""

    code = "parse_error"

    def __init__(self, line: str, original_error: Exception):
        self.line = line
        self.original_error = original_error
        super().__init__(f"Failed to decode JSON: {line[:100]}...")


class MessageParseError(ClaudeSDKError):
    """A message from the CLI lacks a field its type requires."""

    def __init__(self, message: str, data: dict[str, Any] | None = None):
        self.data = data
        super().__init__(message)


class ControlTimeoutError(ClaudeSDKError, TimeoutError):
    """A control request (interrupt, set_model, ...) or the start-up got no answer in time."""

    code = "timeout"


class InvalidOptionError(ClaudeSDKError, ValueError):
    """An option or argument cannot work; the message names it."""

    code = "invalid_argument"


_BY_CODE: dict[str, type[ClaudeSDKError]] = {
    "cli_not_found": CLINotFoundError,
    "cwd_not_found": CLIConnectionError,
    "spawn_failed": CLIConnectionError,
    "closed": CLIConnectionError,
    "io_error": CLIConnectionError,
    "session_not_found": CLIConnectionError,
    "timeout": ControlTimeoutError,
    "invalid_argument": InvalidOptionError,
    "invalid_utf8": InvalidOptionError,
}


def from_engine(err: BaseException) -> ClaudeSDKError:
    """The SDK-named exception for a ``_ccbridge.Error(code, message, exit_code, stderr)``."""
    code, message, exit_code, stderr = (list(err.args) + [None] * 4)[:4]
    code = str(code or "internal")
    message = str(message or code)
    if code == "process_failed":
        exc: ClaudeSDKError = ProcessError(message, exit_code=exit_code, stderr=stderr or None)
    elif code == "cli_not_found":
        exc = CLINotFoundError(message)
    else:
        exc = _BY_CODE.get(code, ClaudeSDKError)(message)
    exc.code = code
    return exc
