"""The API key: every route and the WebSocket need it when one is set.

A client sends it as ``Authorization: Bearer KEY``; a browser, which cannot set headers on a
WebSocket, as the query parameter ``?token=KEY``. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Mapping


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a request carries: its Bearer header, else its ``token`` query parameter."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = query.get("token")
    return token or None


def authorized(expected: str | None, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """``None`` when the request may go on (no key set, or the right one); else why not."""
    if expected is None:
        return None
    given = presented_key(headers, query)
    if given is None:
        return "an API key is required (Authorization: Bearer KEY, or ?token=KEY)"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return "wrong API key"
    return None
