"""The FastAPI app of ``EnhancedClaudeWebSocketServer.app`` (the extra ``ccbridge[websocket]``).

Each conversation still runs in ccbridge's C++ gateway: the server starts it privately on a
loopback port (profile "sdk-ws", guarded by a random token only this process knows), and the app's
``/ws`` forwards a client's text messages to it and its frames back, unchanged (the engine
serialises them; Python never parses them). ``/health``, ``/sessions`` and ``/metrics`` answer with
the engine's own replies. What Python adds is the place for hooks: middleware, extra routes, and a
``/ws`` of the user's own that authenticates and then calls ``server._handle_websocket(websocket)``.

Routes the user registers before the app first serves take precedence over the built-in ones of the
same path (the built-ins are moved behind them then).

Thread safety: the app runs on one event loop; the engine it talks to is the server's, whose start
and stop are guarded by the server's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any, AsyncIterator, List, Optional, Tuple

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware
from starlette.websockets import WebSocketState
import websockets

if TYPE_CHECKING:
    from .websocket_server import EnhancedClaudeWebSocketServer

_PROXIED = ("/health", "/sessions", "/metrics")
# The engine's refusal of an upgrade (HTTP status), as the close code the client gets instead.
_REFUSED_CLOSE = {401: 1008, 403: 1008, 429: 1013, 503: 1013}


class _App(FastAPI):
    """A FastAPI app whose built-in routes yield to user routes of the same path."""

    _ccb_builtin: List[Any]
    _ccb_ordered = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self._ccb_ordered:
            self._ccb_ordered = True
            routes = self.router.routes
            routes[:] = [r for r in routes if r not in self._ccb_builtin] + [r for r in routes if r in self._ccb_builtin]
        await super().__call__(scope, receive, send)


def build_app(server: "EnhancedClaudeWebSocketServer") -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(server._start_inner)
        try:
            yield
        finally:
            await asyncio.to_thread(server._stop_inner)

    app = _App(title="ccbridge seed-003 WebSocket server", lifespan=lifespan)
    if server.enable_cors:
        app.add_middleware(CORSMiddleware, allow_origins=server.allowed_origins or ["*"],
                           allow_methods=["*"], allow_headers=["*"])
    before = list(app.router.routes)
    _add_routes(app, server)
    app._ccb_builtin = [r for r in app.router.routes if r not in before]
    return app


def _add_routes(app: FastAPI, server: "EnhancedClaudeWebSocketServer") -> None:
    @app.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket) -> None:
        if not _token_ok(server, websocket.headers.get("authorization"), websocket.query_params.get("token")):
            await websocket.close(code=1008, reason="a valid token is required")
            return
        await server._handle_websocket(websocket)

    async def proxied(request: Request) -> Response:
        if request.url.path != "/health" and \
                not _token_ok(server, request.headers.get("authorization"), request.query_params.get("token")):
            return JSONResponse({"error": "a valid token is required"}, status_code=401)
        status, body, content_type = await asyncio.to_thread(_engine_get, server, request.url.path)
        return Response(body, status_code=status, media_type=content_type)

    for path in _PROXIED:
        app.add_api_route(path, proxied, methods=["GET"], include_in_schema=False)


def _token_ok(server: "EnhancedClaudeWebSocketServer", authorization: Optional[str], query_token: Optional[str]) -> bool:
    if not server.token:
        return True
    given = query_token or ""
    if authorization and authorization.lower().startswith("bearer "):
        given = authorization[len("bearer "):].strip()
    return hmac.compare_digest(given.encode(), server.token.encode())


def _engine_get(server: "EnhancedClaudeWebSocketServer", path: str) -> Tuple[int, bytes, str]:
    """(status, body, content type) of the engine's answer to GET path."""
    base, secret = server._start_inner()
    req = urllib.request.Request(f"http://{base}{path}", headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), r.headers.get("content-type", "application/json")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("content-type", "application/json")


def _origin_ok(server: "EnhancedClaudeWebSocketServer", websocket: WebSocket) -> bool:
    """The engine's rule: no Origin (not a browser), an allowed one, or the server's own."""
    origin = websocket.headers.get("origin")
    if not origin:
        return True
    if "*" in server.allowed_origins or origin in server.allowed_origins:
        return True
    host = websocket.headers.get("host", "")
    return bool(host) and origin in (f"http://{host}", f"https://{host}")


async def handle_websocket(server: "EnhancedClaudeWebSocketServer", websocket: WebSocket,
                           user_id: Optional[str]) -> None:
    """One client connection: a connection to the engine's /ws, and the messages relayed both ways."""
    if not _origin_ok(server, websocket):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    base, secret = await asyncio.to_thread(server._start_inner)
    query = [(k, v) for k, v in websocket.query_params.multi_items() if k != "token"]
    url = f"ws://{base}/ws" + ("?" + "&".join(f"{k}={_q(v)}" for k, v in query) if query else "")
    try:
        engine = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {secret}"},
                                          max_size=None, open_timeout=10)
    except websockets.InvalidStatus as err:
        code = _REFUSED_CLOSE.get(err.response.status_code, 1011)
        await websocket.close(code=code, reason=err.response.body.decode("utf-8", "replace")[:120] if err.response.body else "")
        return
    if websocket.client_state == WebSocketState.CONNECTING:
        await websocket.accept()
    server._log_connection(user_id, websocket)
    async with engine:
        await _relay(websocket, engine)


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


async def _relay(client: WebSocket, engine: Any) -> None:
    to_engine = asyncio.ensure_future(_client_to_engine(client, engine))
    to_client = asyncio.ensure_future(_engine_to_client(engine, client))
    done, pending = await asyncio.wait({to_engine, to_client}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if to_client in done and not to_client.cancelled() and to_client.exception() is None:
        code, reason = to_client.result()
        with contextlib.suppress(Exception):
            await client.close(code=code, reason=reason)
    else:
        await engine.close(code=1000)


async def _client_to_engine(client: WebSocket, engine: Any) -> None:
    with contextlib.suppress(WebSocketDisconnect, websockets.ConnectionClosed):
        while True:
            message = await client.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await engine.send(message["text"])
            elif message.get("bytes") is not None:
                await engine.send(message["bytes"])


async def _engine_to_client(engine: Any, client: WebSocket) -> Tuple[int, str]:
    """Frames until the engine closes; returns its close code and reason."""
    try:
        async for frame in engine:
            if isinstance(frame, str):
                await client.send_text(frame)
            else:
                await client.send_bytes(frame)
    except websockets.ConnectionClosed:
        pass
    rcvd = engine.close_rcvd
    if rcvd is None or rcvd.code in (1005, 1006):  # codes that may not be sent
        return (1000, "") if rcvd is not None else (1011, "the engine connection was lost")
    return rcvd.code, rcvd.reason
