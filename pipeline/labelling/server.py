"""The labelling page's web layer: a small Starlette app over a ``LabelSession``, served by uvicorn.

Safety, by default:

* it listens on loopback (127.0.0.1) only; another host is an explicit ``--host`` and a warning;
* every request must start with the session's random token (``http://127.0.0.1:PORT/<token>/``):
  without it, 403. Another web page open in the same browser cannot guess it, so cannot post
  labels; POSTs must also be JSON, which a cross-site form cannot send without a preflight this
  server never grants;
* a loopback server answers only requests addressed to a loopback name (no DNS rebinding);
* the server reads no file on request: the page's three files are read from the package once,
  at start, by fixed name, and paragraphs come from the session in memory;
* a bad request gets a 4xx answer and one log line; an error in our code gets a 500 and a
  traceback in the log, and the server carries on.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
import socket
import sys
from importlib import resources
from typing import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import InputError
from .session import LabelSession, SessionError

STATIC = {"index.html": "text/html; charset=utf-8", "label.js": "text/javascript; charset=utf-8",
          "label.css": "text/css; charset=utf-8"}
MAX_BODY = 64 * 1024
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                                 b"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def page_files() -> dict[str, bytes]:
    """The page (HTML, JS, CSS) from the package's resources, read once."""
    folder = resources.files("pipeline").joinpath("resources", "label")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC}


def new_token() -> str:
    return secrets.token_urlsafe(18)


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class _Guard:
    """ASGI middleware: the token and Host checks, and security headers on every answer."""

    def __init__(self, app, token: str, hosts: set[str] | None, log: Callable[[str], None]):
        self.app, self.token, self.hosts, self.log = app, token, hosts, log
        self.prefix = f"/{token}"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        path = scope["path"]
        first = path.split("/", 2)[1] if path.startswith("/") else ""
        if not hmac.compare_digest(first.encode("utf-8", "replace"), self.token.encode()):
            self.log(f"403 {scope['method']} {_redact(path, self.token)}: missing or wrong token")
            return await _json(403, {"error": "missing or wrong token: open the URL the server printed"})(
                scope, receive, send_with_headers)
        if self.hosts is not None:
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
            if host not in self.hosts:
                self.log(f"403 {scope['method']} {_redact(path, self.token)}: unexpected Host {host!r}")
                return await _json(403, {"error": "unexpected Host header"})(scope, receive, send_with_headers)
        if path == self.prefix:
            return await RedirectResponse(self.prefix + "/", status_code=307)(scope, receive, send_with_headers)
        scope = {**scope, "root_path": scope.get("root_path", "") + self.prefix}
        await self.app(scope, receive, send_with_headers)


def _redact(path: str, token: str) -> str:
    return path.replace(token, "<token>") if token else path


def _json(status: int, data) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def make_app(session: LabelSession, token: str, *, hosts: set[str] | None = None,
             log: Callable[[str], None] | None = None):
    """The ASGI app: the page at ``/<token>/`` and its JSON API under ``/<token>/api/``.
    ``hosts``: the Host header values accepted (None: any)."""
    log = log or (lambda message: print(f"label: {message}", file=sys.stderr, flush=True))
    files = page_files()

    def fail(request: Request, status: int, message: str) -> JSONResponse:
        log(f"{status} {request.method} {_redact(request.url.path, token)}: {message}")
        return _json(status, {"error": message})

    def guarded(handler):
        async def endpoint(request: Request):
            try:
                return await handler(request)
            except _BadRequest as exc:
                return fail(request, exc.status, exc.message)
            except SessionError as exc:
                return fail(request, exc.status, str(exc))
        return endpoint

    async def body(request: Request) -> dict:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _BadRequest(415, "send a JSON body (Content-Type: application/json)")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            raise _BadRequest(413, f"body larger than {MAX_BODY} bytes")
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_BODY:
                raise _BadRequest(413, f"body larger than {MAX_BODY} bytes")
        try:
            parsed = json.loads(data or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _BadRequest(400, "the body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise _BadRequest(400, "the body must be a JSON object")
        return parsed

    def answer(shown: int | None = None) -> JSONResponse:
        """The session's state and the paragraph to show: ``shown``, or the next in the queue."""
        state = session.state()
        current = shown if shown is not None else state["next_id"]
        return _json(200, {"state": state, "item": session.item(current) if current is not None else None})

    def paragraph_id(data: dict):
        if "id" not in data:
            raise _BadRequest(400, "missing 'id' (the paragraph's number)")
        return data["id"]

    async def index(request: Request):
        return Response(files["index.html"], media_type=STATIC["index.html"])

    async def static(request: Request):
        name = request.path_params["name"]
        if name not in STATIC or name == "index.html":
            raise _BadRequest(404, "no such file")
        return Response(files[name], media_type=STATIC[name])

    async def state(request: Request):
        return answer()

    async def item(request: Request):
        raw = request.path_params["id"]
        if not raw.isdigit() or len(raw) > 12:
            raise _BadRequest(400, f"paragraph id must be a number, got {raw[:40]!r}")
        return _json(200, session.item(int(raw)))

    async def label(request: Request):
        data = await body(request)
        if "label" not in data:
            raise _BadRequest(400, "missing 'label'")
        session.label(paragraph_id(data), data["label"])
        return answer()

    async def skip(request: Request):
        data = await body(request)
        session.skip(paragraph_id(data))
        return answer()

    async def undo(request: Request):
        await body(request)
        return answer(session.undo())

    async def retrain(request: Request):
        await body(request)
        session.retrain()
        response = answer()
        response.status_code = 202
        return response

    async def not_found(request: Request, exc: HTTPException):
        return fail(request, exc.status_code, exc.detail or "not found")

    async def server_error(request: Request, exc: Exception):
        # Starlette re-raises the exception after this answer, so uvicorn logs its traceback.
        log(f"500 {request.method} {_redact(request.url.path, token)}: {exc.__class__.__name__}: {exc}")
        return _json(500, {"error": "internal error; see the server's log"})

    routes = [
        Route("/", guarded(index), methods=["GET"]),
        Route("/static/{name}", guarded(static), methods=["GET"]),
        Route("/api/state", guarded(state), methods=["GET"]),
        Route("/api/item/{id}", guarded(item), methods=["GET"]),
        Route("/api/label", guarded(label), methods=["POST"]),
        Route("/api/skip", guarded(skip), methods=["POST"]),
        Route("/api/undo", guarded(undo), methods=["POST"]),
        Route("/api/retrain", guarded(retrain), methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: server_error})
    return _Guard(app, token, hosts, log)


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """Host header values a loopback server answers (None for any, when bound elsewhere)."""
    if not is_loopback(host):
        return None
    names = {"127.0.0.1", "localhost", "[::1]", host.lower() if ":" not in host else f"[{host.lower()}]"}
    return {f"{name}:{port}" for name in names}


# --------------------------------------------------------------------------- running it

DEFAULT_PORT = 8765


def listen(host: str, port: int | None) -> socket.socket:
    """A listening socket on ``host``: on ``port``, or, when none is asked for, on
    ``DEFAULT_PORT`` if free, else any free port."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    last_error = None
    for candidate in ([port] if port is not None else [DEFAULT_PORT, 0]):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address[0], candidate, *address[2:]))
            sock.listen(128)
            sock.set_inheritable(False)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise InputError(f"cannot listen on {host}:{port}: {last_error.strerror}; choose another --port") from None


def url_for(host: str, sock: socket.socket, token: str) -> str:
    port = sock.getsockname()[1]
    shown = host
    try:
        address = ipaddress.ip_address(host)
        if address.is_unspecified:  # listening everywhere: this machine can use loopback
            shown = "127.0.0.1" if address.version == 4 else "[::1]"
        elif address.version == 6:
            shown = f"[{host}]"
    except ValueError:
        pass
    return f"http://{shown}:{port}/{token}/"


def _has_display() -> bool:
    """Whether a graphical browser can open here. Without a display, Python's webbrowser falls
    back to console browsers (lynx, w3m), which would take over the terminal the server logs to."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def serve(inputs, out, *, model=None, labels=None, order: str = "uncertain", train_data=None,
          host: str = "127.0.0.1", port: int | None = None, open_browser: bool = True,
          say: Callable[[str], None] | None = None) -> dict:
    """Run the labelling page until Ctrl-C or SIGTERM; returns the session's final state.

    Holds the labels file's lock all along (a second server, or a predict job, on the same file
    fails at once), prints the page's URL on stdout as one line, and opens it in a browser
    unless ``open_browser`` is false or there is no display to show one on.
    """
    import signal
    import threading
    import webbrowser

    import uvicorn

    from ..batch import output_lock
    from .session import open_session
    from .store import check_labels_path

    say = say or (lambda message: print(message, file=sys.stderr, flush=True))
    out = check_labels_path(out)
    if port is not None and not 0 <= port <= 65535:
        raise InputError(f"--port must be between 0 and 65535, got {port}")
    busy = "another labelling server (or a predict job) is using this file; stop it, or choose another --out"
    with output_lock(out, busy=busy):
        sock = listen(host, port)
        try:
            session = open_session(inputs, out, model=model, labels=labels, order=order, train_data=train_data, say=say)
            token = new_token()
            url = url_for(host, sock, token)
            hosts = allowed_hosts(host, sock.getsockname()[1])
            if hosts is None:
                say(f"warning: listening on {host}, which other machines can reach; anyone who has the URL "
                    "(token included) can read these paragraphs and write labels. Use the default 127.0.0.1 "
                    "unless you mean it.")
            app = make_app(session, token, hosts=hosts, log=lambda message: say(f"label: {message}"))
            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                    server_header=False, timeout_graceful_shutdown=3)
            server = uvicorn.Server(config)
            stopped_by: list[int] = []
            previous = {s: signal.signal(s, lambda signum, frame: stopped_by.append(signum))
                        for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                session.start()
                state = session.state()
                say(f"{state['total']:,} paragraphs in {len(session.doc_names):,} document(s); {state['labelled']:,} "
                    f"labelled already in {out}; labels: {', '.join(session.labels)}")
                for note in state["notes"]:
                    say(f"note: {note}")
                print(url, flush=True)
                say("labelling page ready; stop the server with Ctrl-C (every decision is already saved)")
                if open_browser and _has_display():
                    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
                elif open_browser:
                    say("no display found: open the address above in a browser")
                server.run(sockets=[sock])
            finally:
                session.close()
                for s, handler in previous.items():
                    signal.signal(s, handler)
        finally:
            sock.close()
        state = session.state()
        say(f"stopped: {state['labelled']:,} of {state['total']:,} paragraphs labelled, saved in {out}")
        return state
