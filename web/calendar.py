"""A volunteer family's calendar feed at ``/calendar/<token>.ics`` (see
:mod:`followup.calendar_feed`). The token is the credential: a wrong, malformed or revoked one
is 404, the same answer as for a feed that never existed. Reading the feed writes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from followup.calendar_feed import TOKEN_SHAPE, calendar_bytes, family_for_token
from web.limits import lookup_refused, not_found

if TYPE_CHECKING:
    from followup.services import Services

HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}


def calendar_routes(services: Services) -> list[BaseRoute]:
    async def feed(request: Request) -> Response:
        if (throttled := lookup_refused(request)) is not None:
            return throttled
        token = str(request.path_params["token"])
        if not TOKEN_SHAPE.fullmatch(token):
            return not_found()
        body = await run_in_threadpool(_feed, services, token)
        if body is None:
            return not_found()
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={**HEADERS, "Content-Disposition": 'inline; filename="venskab.ics"'},
        )

    return [Route("/calendar/{token}.ics", feed, methods=["GET", "HEAD"])]


def _feed(services: Services, token: str) -> bytes | None:
    with services.session_factory() as session:
        family = family_for_token(session, token)
        if family is None:
            return None
        return calendar_bytes(session, family, services.programmes, services.now())
