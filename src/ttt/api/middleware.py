"""ASGI middleware: bounded request bodies and bearer-token authentication.

Both are plain ASGI (no BaseHTTPMiddleware), so streamed responses (SSE) pass through
untouched and a rejected request never reaches a route.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# GET endpoints a browser opens without being able to set headers (EventSource, download
# links); only these accept the token as ?access_token=.
QUERY_TOKEN_SUFFIXES = ("/stream", "/live", "/per_step.csv")


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class BodyLimitMiddleware:
    """413 JSON for a body over ``max_bytes``: declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await JSONResponse({"detail": "invalid Content-Length"}, 400)(scope, receive, send)
                return
            if too_big:
                await self._reject(scope, receive, send)
                return
        seen = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException: FastAPI lets it through body parsing and the
                    # exception handlers turn it into the same JSON 413.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"request body too large (limit {self.max_bytes} bytes)"

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"detail": self._detail()}, 413)(scope, receive, send)


class TokenAuthMiddleware:
    """Every /api request must carry ``Authorization: Bearer <token>`` (constant-time check)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self._authorised(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = JSONResponse(
            {"detail": "missing or invalid token (send 'Authorization: Bearer <token>')"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        auth = Headers(scope=scope).get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and self._matches(value.strip()):
            return True
        if scope.get("method") == "GET" and scope["path"].endswith(QUERY_TOKEN_SUFFIXES):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            return any(self._matches(v) for v in query.get("access_token", []))
        return False

    def _matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.token)
