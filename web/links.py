"""Where a request came from and which URL it was sent to (behind a proxy, the public one)."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in {"localhost", "testclient"}


def public_url_for(request: Request, public_url: str | None) -> str:
    """The URL Twilio called: the configured public URL (behind a proxy) or what we were sent."""
    if public_url:
        url = public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        return url
    return str(request.url)
