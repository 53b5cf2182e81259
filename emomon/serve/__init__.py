"""``emomon serve``: the monitor as a service (HTTP + WebSocket), for integrators.

One model and one batched inference worker (:mod:`.hub`: a persistent
:class:`~emomon.stream.Monitor`) serve every session; each WebSocket session is a
:class:`~emomon.stream.sources.PushSource` in it. Modules: :mod:`.options` (``ServeOptions``),
:mod:`.protocol` (the typed messages and close codes, ``PROTOCOL_VERSION``), :mod:`.sessions`
(a session's outgoing messages, the registry and its limits), :mod:`.segments` (speech
stretches), :mod:`.stream` (one connection), :mod:`.upload` (``POST /v1/analyze``),
:mod:`.auth`, :mod:`.app` (routes), :mod:`.server` (uvicorn), :mod:`.command` (the typer
command). The protocol: ``emomon/serve/PROTOCOL.md``; a client: :mod:`emomon.client`.

Python API::

    from emomon.serve import ServeOptions, create_app, run
    run(ServeOptions(port=8765, model="default"))          # blocks until SIGTERM / Ctrl-C
    app = create_app(model, ServeOptions())                # an ASGI app for your own server

The server's packages (starlette, uvicorn, websockets, python-multipart: the ``serve`` extra)
are imported only when a server is made.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {  # submodule (relative to this package) -> the names it gives
    "options": ["ServeOptions", "api_key_from"],
    "app": ["create_app"],
    "server": ["run", "serve"],
    "protocol": ["PROTOCOL_VERSION"],
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
