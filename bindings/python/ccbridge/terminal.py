"""Terminal: the Claude Code CLI's interactive UI (or any program) on a pseudo-terminal.

    from ccbridge import Terminal
    with Terminal.start(cwd="/path/to/project", cols=120, rows=40) as term:
        term.write(b"hello\\r")
        for chunk in term:          # bytes, in order, until the program has exited
            ...
        print(term.exit)            # TerminalExit(exit_code=0, signal='', reason='exited', error='')

The engine reads the PTY on its own threads without the GIL; reads here release the GIL while
they wait. Up to 1 MiB of output waits unread, then the program blocks until it is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

from . import _ccbridge
from ._errors import from_engine


@dataclass(frozen=True)
class TerminalExit:
    """How a terminal ended (cc-control's ``pty_exit``)."""

    exit_code: Optional[int]  # -1 when a signal ended it; None when it never ran
    signal: str  # Go's name: "terminated", "killed", ... or ""
    reason: str  # "exited", "start_timeout", or why it could not start
    error: str  # "" or the error's code name ("spawn_failed", ...) when it could not start


class Terminal:
    """A running terminal. Start one with ``Terminal.start(...)`` (or the constructor)."""

    def __init__(
        self,
        *,
        cli_path: Optional[str] = None,
        args: Sequence[str] = (),
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        env_allow_keys: Sequence[str] = (),
        env_allow_prefix: str = "CC_",
        host_env_keys: Optional[Sequence[str]] = None,
        extra_env: Optional[Mapping[str, str]] = None,
        cols: int = 0,
        rows: int = 0,
        resume_id: Optional[str] = None,
        start_timeout: float = 30.0,
        read_chunk: int = 4096,
    ) -> None:
        options = {
            "cli_path": cli_path,
            "args": list(args),
            "cwd": cwd,
            "env": dict(env or {}),
            "env_allow_keys": list(env_allow_keys),
            "env_allow_prefix": env_allow_prefix,
            "host_env_keys": list(host_env_keys) if host_env_keys is not None else None,
            "extra_env": dict(extra_env or {}),
            "cols": cols,
            "rows": rows,
            "resume_id": resume_id,
            "start_timeout_ms": int(start_timeout * 1000),
            "read_chunk": read_chunk,
        }
        try:
            self._t = _ccbridge.Terminal(json.dumps(options))
        except _ccbridge.Error as e:
            raise from_engine(e) from None
        self.last_seq = 0

    @classmethod
    def start(cls, **options: Any) -> "Terminal":
        """Starts the program on a new PTY; see the constructor's keywords."""
        return cls(**options)

    def read(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next chunk of output, or None once the program has exited and all of it was read.
        Raises TimeoutError when nothing came within ``timeout`` seconds (None: wait forever)."""
        got = self._t.read(-1.0 if timeout is None else timeout)
        if got is None:
            return None
        self.last_seq, data = got
        return data

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self.read()) is not None:
            yield chunk

    def write(self, data: Union[bytes, str]) -> None:
        """Queues input for the program (str is sent as UTF-8). Never blocks."""
        self._t.write(data.encode() if isinstance(data, str) else bytes(data))

    def resize(self, cols: int, rows: int) -> None:
        self._t.resize(cols, rows)

    def stop(self, grace: float = 4.0, kill_after: float = 9.0) -> None:
        """SIGTERM now, SIGKILL at max(grace, kill_after) seconds if still there. Never blocks."""
        self._t.stop(grace, kill_after)

    def wait(self, timeout: Optional[float] = None) -> TerminalExit:
        """Reads (and drops) the output until the end; returns the exit. TimeoutError if a read waits
        longer than ``timeout``."""
        while self.read(timeout) is not None:
            pass
        exit_ = self.exit
        assert exit_ is not None
        return exit_

    @property
    def exit(self) -> Optional[TerminalExit]:
        """How it ended, once known (None while it runs)."""
        info = self._t.exit_info()
        return None if info is None else TerminalExit(**info)

    @property
    def pid(self) -> int:
        return self._t.pid

    @property
    def running(self) -> bool:
        return self._t.running

    @property
    def unread(self) -> int:
        """Bytes of output waiting to be read here: past 1 MiB the PTY is not read (the program
        blocks), so never more than 1 MiB and one ``read_chunk``."""
        return self._t.unread

    def close(self) -> None:
        """Stops the program (SIGTERM, SIGKILL 2 s later) without waiting. Idempotent."""
        self._t.close()

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
