"""The seed-003 "SDK WebSocket server" (``EnhancedClaudeWebSocketServer``), served by ccbridge's C++
gateway.

    from ccbridge.websocket_server import EnhancedClaudeWebSocketServer

    server = EnhancedClaudeWebSocketServer(max_sessions=50, session_timeout_minutes=60)
    server.run(host="0.0.0.0", port=8000, log_level="info")   # until Ctrl-C or SIGTERM

It speaks the seed's protocol (``WS /ws``, ``GET /sessions``, ``GET /health``; plus ``GET /metrics``)
exactly as ``ccbridge serve`` does for the profile "sdk-ws" (docs/SERVER.md, docs/PROTOCOL.md).
Settings come from the arguments, else from the environment the seed documents (``WEBSOCKET_HOST``,
``WEBSOCKET_PORT``, ``MAX_SESSIONS``, ``SESSION_TIMEOUT_MINUTES``, ``CORS``) and ``CCBRIDGE_TOKEN``,
else from the defaults (127.0.0.1, port 8000, 100 sessions, 30 minutes, no CORS, no token).

``server.app`` is the seed's FastAPI app (with the extra ``ccbridge[websocket]``): add middleware,
routes or a ``/ws`` of your own that authenticates and calls ``server._handle_websocket(websocket)``.
Once it has been used, :meth:`run` and :meth:`start` serve it with uvicorn, and each conversation is
still run by the C++ engine (see ``_asgi``); without it they serve from the engine alone, the fast
path. Without the extra, every attribute of ``server.app`` raises ``NoASGIAppError`` saying how to
install it. Log lines go to the ``logging`` logger ``"ccbridge.websocket_server"``.

Thread safety: start(), stop() and run() may be called from any thread.
"""

from __future__ import annotations

import atexit
import dataclasses
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import threading
import weakref
from pathlib import PurePath
from types import FrameType, TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

from . import _ccbridge

__all__ = [
    "EnhancedClaudeWebSocketServer",
    "NoASGIAppError",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_MAX_SESSIONS",
    "DEFAULT_SESSION_TIMEOUT_MINUTES",
    "LOGGER_NAME",
]

DEFAULT_HOST = "127.0.0.1"  # like `ccbridge serve`; pass host="0.0.0.0" (as the seed's examples do) to listen on all
DEFAULT_PORT = 8000
DEFAULT_MAX_SESSIONS = 100
DEFAULT_SESSION_TIMEOUT_MINUTES = 30
LOGGER_NAME = "ccbridge.websocket_server"

logger = logging.getLogger(LOGGER_NAME)

LogLevel = Union[str, int]

# ---- environment (the same names and ranges as `ccbridge serve`, lib/app/serve.cpp) ------------


def _env(name: str) -> Optional[str]:
    value = os.environ.get(name, "")
    return value if value.strip() else None


def _env_int(name: str, lo: int, hi: int) -> Optional[int]:
    raw = _env(name)
    if raw is None:
        return None
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a whole number") from None
    if not lo <= value <= hi:
        raise ValueError(f"environment variable {name}={raw!r} must be from {lo} to {hi}")
    return value


def _env_flag(name: str) -> Optional[bool]:
    raw = _env(name)
    return None if raw is None else raw.strip().lower() not in ("0", "false", "no", "off")


# ---- log levels and lines -----------------------------------------------------------------------

_LEVEL_NAMES: Dict[str, int] = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "off": logging.CRITICAL + 1,
}
_ENGINE_LEVELS: Dict[str, int] = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _logging_level(level: LogLevel) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, str)):
        raise TypeError(f"log_level must be a level name or a logging level number, not {type(level).__name__}")
    if isinstance(level, int):
        return level
    try:
        return _LEVEL_NAMES[level.strip().lower()]
    except KeyError:
        raise ValueError(f"log_level {level!r} is not one of {', '.join(_LEVEL_NAMES)}") from None


def _engine_level(level: int) -> str:
    """The engine's filter for a logging level: it formats only what the logger would keep."""
    if level <= logging.DEBUG:
        return "debug"
    if level <= logging.INFO:
        return "info"
    if level <= logging.WARNING:
        return "warn"
    if level <= logging.CRITICAL:
        return "error"
    return "off"


def _log_sink(line: str) -> None:
    """The engine's text lines ("<time> <level> <event> key=value ...") as logging records.

    A module-level function on purpose: a bound method would make a reference cycle through the
    C++ object that the garbage collector cannot see.
    """
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[1] in _ENGINE_LEVELS:
        logger.log(_ENGINE_LEVELS[parts[1]], "%s", parts[2])
    else:
        logger.info("%s", line)


# ---- the seed's FastAPI app, or a placeholder without the extra ------------------------------------

_APP_HELP = (
    "EnhancedClaudeWebSocketServer.app.{name} needs FastAPI: pip install 'ccbridge[websocket]' ({why}). "
    "Without it the server runs from its C++ gateway alone, configured by the constructor: token=..., "
    "allowed_origins=[...], enable_cors=True, max_sessions, session_timeout_minutes, run(log_level='debug'). "
    "See docs/PYTHON.md."
)


class NoASGIAppError(AttributeError):
    """Raised by every attribute of ``EnhancedClaudeWebSocketServer.app``."""


class _NoASGIApp:
    """Stands for the FastAPI app when the extra is not installed; every attribute raises NoASGIAppError."""

    __slots__ = ("_why",)

    def __init__(self, why: str) -> None:
        object.__setattr__(self, "_why", why)

    def __getattr__(self, name: str) -> Any:
        raise NoASGIAppError(_APP_HELP.format(name=name, why=object.__getattribute__(self, "_why")))

    def __setattr__(self, name: str, value: Any) -> None:
        raise NoASGIAppError(_APP_HELP.format(name=name, why=self._why))

    def __delattr__(self, name: str) -> None:
        raise NoASGIAppError(_APP_HELP.format(name=name, why=self._why))

    def __repr__(self) -> str:
        return "<no ASGI app: pip install 'ccbridge[websocket]'>"


# ---- options ------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"a server option value of type {type(value).__name__} cannot be sent to the engine")


def _cli_options(options: Any) -> Dict[str, Any]:
    """The base options of every conversation, as the engine's JSON object (ClaudeAgentOptions names)."""
    if options is None:
        return {}
    if isinstance(options, Mapping):
        data = dict(options)
        for name in ("stderr", "can_use_tool", "hooks"):
            if data.get(name) is not None:
                raise TypeError(_CALLBACK_HELP.format(name=name))
            data.pop(name, None)
        return data
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        # A ClaudeAgentOptions: the package's own conversion (fields left at their defaults are omitted).
        from ._engine import Prepared

        prepared = Prepared(options, None)  # type: ignore[arg-type]
        for name, used in (("stderr", prepared.on_stderr), ("can_use_tool", prepared.can_use_tool),
                           ("hooks", prepared.hooks), ("mcp_servers (SDK servers)", prepared.tool_servers)):
            if used:
                raise TypeError(_CALLBACK_HELP.format(name=name))
        result: Dict[str, Any] = json.loads(prepared.options_json)
        return result
    raise TypeError(f"options must be a dict of ClaudeAgentOptions fields or a ClaudeAgentOptions, not {type(options).__name__}")


_CALLBACK_HELP = (
    "options.{name} is a Python callback, which the server cannot use: its clients answer permission requests "
    "over the socket (query option permission_requests: true, then permission_response) and define tools with "
    "define_tool"
)


def _engine_error(err: BaseException, doing: str) -> Exception:
    code, message = (list(err.args) + [None, None])[:2]
    text = f"{doing}: {message or code}"
    if code in ("invalid_argument", "invalid_utf8"):
        return ValueError(text)
    if code == "io_error":
        return OSError(text)
    return RuntimeError(f"{text} ({code})")


def _ip_address(host: str) -> str:
    """The engine binds IP addresses only: a name such as "localhost" is resolved here."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as e:
        raise OSError(f"cannot resolve host {host!r}: {e}") from None
    return str(infos[0][4][0])


_running: "weakref.WeakSet[EnhancedClaudeWebSocketServer]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    # Registered after the package's own exit hook, so it runs first, while C++ may still call Python.
    for server in list(_running):
        server.stop()


# ---- the server ---------------------------------------------------------------------------------


class EnhancedClaudeWebSocketServer:
    """Seed 003's WebSocket server (``WS /ws``, ``GET /sessions``, ``GET /health``) on ccbridge's gateway.

    Every argument left as ``None`` comes from the environment, else the default: ``enable_cors``
    from ``CORS`` (False), ``max_sessions`` from ``MAX_SESSIONS`` (100), ``session_timeout_minutes``
    from ``SESSION_TIMEOUT_MINUTES`` (30), ``token`` from ``CCBRIDGE_TOKEN`` (none; ``token=""``
    turns it off even when the variable is set). The host and port are chosen by :meth:`run` or
    :meth:`start` (``WEBSOCKET_HOST``, ``WEBSOCKET_PORT``; 127.0.0.1 and 8000).

    ccbridge's extras: ``cli_path`` (the ``claude`` executable), ``options`` (base options of every
    conversation: a dict of ClaudeAgentOptions field names, or a ClaudeAgentOptions without
    callbacks), ``allowed_roots`` (directories a client's ``cwd`` may be in; default: the current
    directory), ``allowed_origins`` (browser Origins admitted besides the server's own),
    ``allowed_permission_modes`` (default: default, acceptEdits, plan), ``default_permission_mode``,
    ``client_allowed_tools`` (tools a client's ``allowed_tools`` may pre-approve; default: the
    read-only tools Read, Glob, Grep, LS, NotebookRead; see docs/SERVER.md),
    ``reconnect_grace_seconds`` (for ``/ws?resumable=1`` clients, default 60), ``limits`` (the
    engine's ServerLimits: ``max_connections``, ``max_ws_message_bytes``, ``idle_timeout_ms`` ...),
    ``tls_cert`` and ``tls_key`` (PEM files, both or neither: then only ``wss://`` and ``https://``
    are served; :meth:`start` raises ValueError naming the file when one cannot be used).
    """

    def __init__(
        self,
        enable_cors: Optional[bool] = None,
        max_sessions: Optional[int] = None,
        session_timeout_minutes: Optional[float] = None,
        *,
        cli_path: Optional[Union[str, "os.PathLike[str]"]] = None,
        token: Optional[str] = None,
        options: Optional[Any] = None,
        allowed_roots: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None,
        allowed_origins: Optional[Sequence[str]] = None,
        allowed_permission_modes: Optional[Sequence[str]] = None,
        default_permission_mode: Optional[str] = None,
        client_allowed_tools: Optional[Sequence[str]] = None,
        reconnect_grace_seconds: Optional[float] = None,
        limits: Optional[Mapping[str, int]] = None,
        tls_cert: Optional[Union[str, "os.PathLike[str]"]] = None,
        tls_key: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> None:
        if enable_cors is None:
            enable_cors = _env_flag("CORS")
        if max_sessions is None:
            max_sessions = _env_int("MAX_SESSIONS", 1, 1_000_000)
        if session_timeout_minutes is None:
            session_timeout_minutes = _env_int("SESSION_TIMEOUT_MINUTES", 1, 100_000)
        if token is None:
            token = _env("CCBRIDGE_TOKEN")
        self.enable_cors: bool = bool(enable_cors) if enable_cors is not None else False
        self.max_sessions: int = DEFAULT_MAX_SESSIONS if max_sessions is None else max_sessions
        self.session_timeout_minutes: float = (
            DEFAULT_SESSION_TIMEOUT_MINUTES if session_timeout_minutes is None else session_timeout_minutes
        )
        if isinstance(self.max_sessions, bool) or not isinstance(self.max_sessions, int) or self.max_sessions < 1:
            raise ValueError(f"max_sessions must be a whole number of at least 1, not {self.max_sessions!r}")
        if isinstance(self.session_timeout_minutes, bool) or not isinstance(self.session_timeout_minutes, (int, float)) \
                or not self.session_timeout_minutes > 0:
            raise ValueError(f"session_timeout_minutes must be a positive number, not {self.session_timeout_minutes!r}")
        self.token: Optional[str] = token or None
        self.allowed_origins: List[str] = list(allowed_origins or [])
        self._base: Dict[str, Any] = {}
        cli = _cli_options(options)
        if cli_path is not None:
            cli["cli_path"] = os.fspath(cli_path)
        if cli:
            self._base["cli"] = cli
        if allowed_roots is not None:
            self._base["allowed_roots"] = [os.fspath(r) for r in allowed_roots]
        if allowed_permission_modes is not None:
            self._base["allowed_permission_modes"] = list(allowed_permission_modes)
        if default_permission_mode is not None:
            self._base["default_permission_mode"] = default_permission_mode
        if client_allowed_tools is not None:
            self._base["client_allowed_tools"] = list(client_allowed_tools)
        if reconnect_grace_seconds is not None:
            self._base["sdk_ws_reconnect_grace_ms"] = int(round(reconnect_grace_seconds * 1000))
        self._limits: Dict[str, int] = dict(limits or {})
        self._tls = tls_cert is not None or tls_key is not None
        if tls_cert is not None:
            self._base["tls_cert"] = os.fspath(tls_cert)
        if tls_key is not None:
            self._base["tls_key"] = os.fspath(tls_key)
        self._app: Any = None
        self._inner: Any = None  # the engine behind the app: (engine, "127.0.0.1:port", secret)
        self._uvicorn: Any = None
        self._uvicorn_thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._engine: Any = None
        self._endpoint: Optional[Tuple[str, int]] = None
        self._stop_requested = threading.Event()

    # ---- settings --------------------------------------------------------------------------------

    def _config(self, host: str, port: int, engine_level: str, inner_token: Optional[str] = None) -> Dict[str, Any]:
        """The engine's settings; with inner_token, those of the engine behind the app (loopback,
        plain, that token only: the app does CORS, Origin, TLS and the user's token itself)."""
        config: Dict[str, Any] = dict(self._base)
        if inner_token is not None:
            config.pop("tls_cert", None)
            config.pop("tls_key", None)
        config.update(
            listeners=[{"host": host, "port": port, "profiles": ["sdk-ws"]}],
            cors=self.enable_cors and inner_token is None,
            sdk_ws_session_timeout_ms=max(1, int(round(self.session_timeout_minutes * 60_000))),
            limits={**self._limits, "max_sessions": self.max_sessions},
            log_level=engine_level,
        )
        if inner_token is not None:
            config["token"] = inner_token
            return config
        if self.token:
            config["token"] = self.token
        if self.allowed_origins:
            config["allowed_origins"] = list(self.allowed_origins)
        return config

    # ---- the FastAPI app -------------------------------------------------------------------------

    @property
    def app(self) -> Any:
        """The seed's FastAPI app (``ccbridge[websocket]``), made on first use; from then on
        :meth:`run` and :meth:`start` serve it with uvicorn. Routes added before it first serves
        win over its built-in ``/ws``, ``/health``, ``/sessions`` and ``/metrics``."""
        if self._app is None:
            try:
                from . import _asgi
            except ImportError as e:
                return _NoASGIApp(str(e))
            self._app = _asgi.build_app(self)
        return self._app

    async def _handle_websocket(self, websocket: Any, user_id: Optional[str] = None) -> None:
        """Serves one seed-003 conversation on a FastAPI/Starlette WebSocket (accepted or not):
        the C++ engine runs it, the messages are relayed unchanged. ``user_id`` goes to the log."""
        from . import _asgi

        await _asgi.handle_websocket(self, websocket, user_id)

    def _log_connection(self, user_id: Optional[str], websocket: Any) -> None:
        client = getattr(websocket, "client", None)
        logger.info("app connection from %s%s", f"{client.host}:{client.port}" if client else "?",
                    f" user_id={user_id}" if user_id is not None else "")

    def _start_inner(self) -> Tuple[str, str]:
        """The engine behind the app, started on first use: ("127.0.0.1:port", its secret token)."""
        with self._lock:
            if self._inner is None:
                secret = secrets.token_hex(32)
                engine_level = _engine_level(logger.getEffectiveLevel())
                engine = self._make_engine(self._config("127.0.0.1", 0, engine_level, secret), engine_level,
                                           "127.0.0.1:0")
                _host, port, _profiles = engine.endpoints()[0]
                self._inner = (engine, f"127.0.0.1:{int(port)}", secret)
                _running.add(self)
            return self._inner[1], self._inner[2]

    def _stop_inner(self) -> None:
        with self._lock:
            inner, self._inner = self._inner, None
        if inner is not None:
            inner[0].stop()

    @staticmethod
    def _make_engine(config: Dict[str, Any], engine_level: str, where: str) -> Any:
        text = json.dumps(config, default=_json_default, ensure_ascii=False)
        try:
            engine = _ccbridge.Server(text, None if engine_level == "off" else _log_sink)
        except _ccbridge.Error as e:
            raise _engine_error(e, "invalid server settings") from None
        try:
            engine.start()
        except _ccbridge.Error as e:
            raise _engine_error(e, f"cannot start the server on {where}") from None
        return engine

    # ---- life cycle ------------------------------------------------------------------------------

    def start(self, host: Optional[str] = None, port: Optional[int] = None,
              log_level: Optional[LogLevel] = None) -> "EnhancedClaudeWebSocketServer":
        """Binds and serves on the engine's thread, then returns (``self``, for ``with server.start(...)``).

        ``host``/``port`` default to ``WEBSOCKET_HOST``/``WEBSOCKET_PORT``, else 127.0.0.1:8000; port 0
        takes a free port (see :attr:`port`). ``log_level`` (a name or a logging level) sets the
        level of the ``ccbridge.websocket_server`` logger; without it the logger's current
        effective level decides. Raises OSError when the address cannot be bound and ValueError for
        a bad setting.
        """
        if host is None:
            host = _env("WEBSOCKET_HOST") or DEFAULT_HOST
        if port is None:
            env_port = _env_int("WEBSOCKET_PORT", 0, 65535)
            port = DEFAULT_PORT if env_port is None else env_port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be a whole number from 0 to 65535, not {port!r}")
        if log_level is not None:
            logger.setLevel(_logging_level(log_level))
        engine_level = _engine_level(logger.getEffectiveLevel())
        bind_host = _ip_address(host.strip())
        if self._app is not None:
            self._start_app(bind_host, port, engine_level)
        else:
            self._start_native(bind_host, port, engine_level)
        logger.info("serving the seed-003 WebSocket protocol on %s (GET /health, GET /sessions, GET /metrics%s)",
                    self.url, "; FastAPI app" if self._app is not None else "")
        return self

    def _start_native(self, bind_host: str, port: int, engine_level: str) -> None:
        with self._lock:
            if self._engine is not None:
                raise RuntimeError("the server is already running; stop() it first")
            engine = self._make_engine(self._config(bind_host, port, engine_level), engine_level, f"{bind_host}:{port}")
            bound_host, bound_port, _profiles = engine.endpoints()[0]
            self._engine = engine
            self._endpoint = (bound_host, int(bound_port))
            _running.add(self)

    def _uvicorn_server(self, bind_host: str, port: int, engine_level: str) -> Any:
        import uvicorn

        tls = {"ssl_certfile": self._base["tls_cert"], "ssl_keyfile": self._base["tls_key"]} if self._tls else {}
        level = "critical" if engine_level == "off" else {"warn": "warning"}.get(engine_level, engine_level)
        config = uvicorn.Config(self.app, host=bind_host, port=port, log_level=level, lifespan="on",
                                timeout_graceful_shutdown=10, **tls)
        return uvicorn.Server(config)

    def _start_app(self, bind_host: str, port: int, engine_level: str) -> None:
        """Serves the app with uvicorn on a thread of its own; returns once it listens."""
        with self._lock:
            if self._engine is not None:
                raise RuntimeError("the server is already running; stop() it first")
            self._engine = uv = self._uvicorn_server(bind_host, port, engine_level)
        thread = threading.Thread(target=uv.run, name="ccbridge-uvicorn", daemon=True)
        thread.start()
        while not uv.started and thread.is_alive():
            thread.join(0.01)
        if not uv.started:
            with self._lock:
                self._engine = None
            self._stop_inner()
            raise OSError(f"cannot start the server on {bind_host}:{port} (see the log)")
        sock = uv.servers[0].sockets[0].getsockname()
        with self._lock:
            self._uvicorn_thread = thread
            self._endpoint = (bind_host, int(sock[1]))
            _running.add(self)

    def stop(self) -> None:
        """Graceful stop: refuses new clients, ends every conversation's CLI process, closes the
        sockets with 1001 and returns when all is done. Idempotent; any thread. Ends :meth:`run`."""
        with self._lock:
            engine, self._engine = self._engine, None
            thread, self._uvicorn_thread = self._uvicorn_thread, None
            _running.discard(self)
        self._stop_requested.set()
        if thread is not None:  # the app: uvicorn ends its connections, then the lifespan stops the engine
            engine.should_exit = True
            thread.join()
        elif engine is not None:
            engine.stop()
        self._stop_inner()

    def run(self, host: Optional[str] = None, port: Optional[int] = None, log_level: Optional[LogLevel] = None) -> None:
        """Serves until Ctrl-C (SIGINT), SIGTERM or :meth:`stop`, then stops gracefully and returns.

        As :meth:`start`, with ``log_level`` defaulting to "info"; when nothing handles the
        ``ccbridge.websocket_server`` logger's records yet, they are printed on stderr meanwhile.
        Signals are watched only when called from the main thread.
        """
        handler: Optional[logging.Handler] = None
        if not logger.hasHandlers():
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
        stop_requested = self._stop_requested
        stop_requested.clear()
        received: List[str] = []

        def on_signal(signum: int, frame: Optional[FrameType]) -> None:
            received.append(signal.Signals(signum).name)
            stop_requested.set()

        previous: Dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, on_signal)
        try:
            self.start(host, port, "info" if log_level is None else log_level)
            while not stop_requested.wait(0.25):
                pass
            if received:
                logger.info("%s received, stopping", received[0])
        except KeyboardInterrupt:  # a Ctrl-C that arrived before the handler was in place
            logger.info("SIGINT received, stopping")
        finally:
            try:
                self.stop()
            finally:
                for watched, old in previous.items():
                    signal.signal(watched, old)
                if handler is not None:
                    logger.removeHandler(handler)

    def __enter__(self) -> "EnhancedClaudeWebSocketServer":
        if not self.running:
            self.start()
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()

    # ---- where it listens ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between a successful start() and stop()."""
        return self._engine is not None

    def _bound(self) -> Tuple[str, int]:
        endpoint = self._endpoint
        if endpoint is None or self._engine is None:
            raise RuntimeError("the server is not running; start() or run() it first")
        return endpoint

    @property
    def host(self) -> str:
        """The address it listens on."""
        return self._bound()[0]

    @property
    def port(self) -> int:
        """The port it listens on (the real one when port 0 was asked for)."""
        return self._bound()[1]

    @property
    def http_url(self) -> str:
        """``http://<host>:<port>`` (``https://`` with TLS), with a connectable host (127.0.0.1 / ::1 for
        a wildcard address)."""
        host, port = self._bound()
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    @property
    def url(self) -> str:
        """The WebSocket URL clients connect to: ``ws://<host>:<port>/ws`` (``wss://`` with TLS)."""
        return "ws" + self.http_url[len("http"):] + "/ws"

    def __repr__(self) -> str:
        where = self.url if self.running else "not running"
        return f"<EnhancedClaudeWebSocketServer {where} max_sessions={self.max_sessions}>"


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``python -m ccbridge.websocket_server [--host H] [--port P] [--log-level L] [--cli PATH]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m ccbridge.websocket_server",
        description="Serve the seed-003 WebSocket protocol (WS /ws, GET /sessions, GET /health) until Ctrl-C or "
                    "SIGTERM. Also reads WEBSOCKET_HOST, WEBSOCKET_PORT, MAX_SESSIONS, SESSION_TIMEOUT_MINUTES, CORS "
                    "and CCBRIDGE_TOKEN.")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--log-level", default=None)
    parser.add_argument("--cli", default=None, help="the claude executable")
    args = parser.parse_args(argv)
    EnhancedClaudeWebSocketServer(cli_path=args.cli).run(host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
