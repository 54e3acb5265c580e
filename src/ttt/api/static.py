"""Serves the built dashboard (``dashboard/dist``) for every path no API route matched.

* A file that exists inside the dist folder is served (resolved path checked to stay inside).
* Any other path is a client-side route (``index.html``), unless it looks like an asset (under
  ``/assets/`` or with a static-file extension such as ``.js``): a missing asset is a JSON
  404, as is any unknown ``/api/...`` path. Ids may contain dots, so ``/sessions/a.b`` is
  still a client route.
* No dist folder: an HTML page that says how to build the dashboard (no fake UI).
"""

from __future__ import annotations

import html
from pathlib import Path, PurePosixPath

from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ttt.api.middleware import is_api_path

ASSET_SUFFIXES = frozenset(
    [
        ".js",
        ".mjs",
        ".cjs",
        ".css",
        ".map",
        ".json",
        ".txt",
        ".html",
        ".htm",
        ".ico",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".avif",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".wasm",
        ".webmanifest",
        ".xml",
        ".csv",
        ".mp4",
        ".webm",
    ]
)

NOT_BUILT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ttt dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; background: #111; color: #ddd; padding: 2rem">
<h1>The dashboard has not been built</h1>
<p>No built dashboard was found at <code>{dist}</code>.</p>
<p>Build it with <code>scripts/setup.sh --dashboard</code>
(or <code>cd dashboard &amp;&amp; npm ci &amp;&amp; npm run build</code>), then reload,
or point <code>ttt serve --dashboard-dist</code> at a built copy.</p>
<p>The API is running: <a href="/api/health" style="color: #8cf">/api/health</a>.</p>
</body></html>
"""


class DashboardFiles:
    """ASGI app used as the router's fallback (``app.router.default``)."""

    def __init__(self, dist: Path) -> None:
        self.dist = dist.resolve()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] != "http":
            return
        response = self.respond(scope["path"], scope["method"])
        await response(scope, receive, send)

    def respond(self, path: str, method: str) -> Response:
        if is_api_path(path):
            return JSONResponse({"detail": f"no API route {path}"}, 404)
        if method not in ("GET", "HEAD"):
            return JSONResponse({"detail": "Method Not Allowed"}, 405, {"Allow": "GET, HEAD"})
        index = self.dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT_HTML.format(dist=html.escape(str(self.dist))), 503)
        rel = path.lstrip("/")
        if rel:
            target = self._inside(rel)
            if target is not None and target.is_file():
                return FileResponse(target, headers=self._cache_headers(rel))
            if target is None or self._looks_like_asset(rel):
                return JSONResponse({"detail": f"not found: /{rel}"}, 404)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    def _inside(self, rel: str) -> Path | None:
        """The file for ``rel`` if it resolves inside the dist folder, else None."""
        if "\x00" in rel:
            return None
        try:
            target = (self.dist / rel).resolve()
        except (OSError, RuntimeError, ValueError):
            return None
        return target if target.is_relative_to(self.dist) else None

    @staticmethod
    def _looks_like_asset(rel: str) -> bool:
        p = PurePosixPath(rel)
        return rel.startswith("assets/") or p.suffix.lower() in ASSET_SUFFIXES

    @staticmethod
    def _cache_headers(rel: str) -> dict[str, str]:
        # Vite puts content-hashed files under assets/: safe to cache forever.
        if rel.startswith("assets/"):
            return {"Cache-Control": "public, max-age=31536000, immutable"}
        return {"Cache-Control": "no-cache"}
