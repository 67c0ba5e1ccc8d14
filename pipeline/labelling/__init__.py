"""The labelling page: analysts label their own paragraphs with the model's help, and retrain.

    python -m pipeline label reports/ --out my_labels.csv            # with models/default
    python -m pipeline label reports/ --out my_labels.csv --labels a,b,c   # a new scheme, cold start

Modules, lowest first: ``queue`` (the order paragraphs are offered in), ``store`` (the labels
file, durable at every decision), ``training`` (retraining in a background process),
``session`` (the session's state: plain Python, what the page calls), ``server`` (the
Starlette app and the uvicorn server around a session). The page itself is static HTML, JS and
CSS in ``pipeline/resources/label/``.
"""
from __future__ import annotations

__all__ = ["open_session", "serve"]


def __getattr__(name: str):
    if name == "open_session":
        from .session import open_session

        return open_session
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
