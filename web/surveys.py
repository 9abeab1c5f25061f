"""Survey pages at ``/s/<token>``: server-rendered, phone first, no JavaScript.

The token in the URL is the capability: it opens one person's survey and nothing else, so the
pages use no cookies and no sessions (and therefore offer nothing to forge across sites). Each
page of questions is one form; a POST stores its answers at once (partial answers are kept)
and redirects (303) to the next page, so reloading never submits twice. The last page
completes the survey and leads to a thank-you page. A link that fits no invitation gets one
neutral page that says nothing about anyone; expired and used links get their own clear pages.

Pages speak the recipient's language (Danish or English), with a link to switch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from followup.survey_defs import Page, Survey, default_surveys, tr
from followup.survey_results import (
    complete,
    lookup,
    mark_opened,
    respondent_locale,
    save_answers,
    saved_answers,
)
from scheduler import i18n
from store.models import SurveyInvitation
from web.limits import (
    BadForm,
    Throttle,
    TooLarge,
    bad_request,
    client_address,
    lookup_refused,
    read_body,
    too_large,
    too_many,
)
from web.staff_render import other_language

if TYPE_CHECKING:
    from followup.services import Services

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every page here is HTML
    trim_blocks=True,
    lstrip_blocks=True,
)
i18n.install(PAGES, locale_variable="lang")

# No scripts, no third parties, no framing; the token must not leak through Referer headers,
# caches or search engines.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
}

MAX_FIELDS = 100


def html(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A survey page in ``values["lang"]``: its texts from the catalogs, its direction (``dir``)
    from the language."""
    values["dir"] = i18n.language(values["lang"]).direction
    body = PAGES.get_template(template).render(**values)
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def message_page(
    lang: str | None,
    blocks: list[tuple[str, str, list[str]]],
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    """A page of one or more (language, title, paragraphs) blocks, optionally with one button.
    ``lang`` None: the blocks are in several languages and there is no language switch."""
    first = blocks[0]
    return html(
        "survey_message.html",
        status,
        lang=lang or first[0],
        page_title=first[1],
        other_lang=other_language(lang)[0] if lang else None,
        other_name=other_language(lang)[1] if lang else None,
        blocks=[{"lang": b[0], "title": b[1], "paragraphs": b[2]} for b in blocks],
        form=form,
    )


def unknown_page() -> HTMLResponse:
    """The same page for every link that fits nothing: in every language, since we cannot know."""
    blocks = []
    for lang in i18n.enabled_languages():
        texts = i18n.texts(lang)
        title = texts.gettext("This link does not work")
        blocks.append(
            (
                lang,
                title,
                [
                    texts.gettext(
                        "We cannot find a questionnaire for this link. Please check that the "
                        "whole link was copied from your text message or email."
                    )
                ],
            )
        )
    blocks.sort(key=lambda b: b[0] != "da")  # Danish first
    return message_page(None, blocks, status=404)


def _lang(request: Request, default: str) -> str:
    asked = request.query_params.get("lang")
    known = i18n.enabled_languages()
    return asked if asked in known else (default if default in known else "da")


def _recipient_lang(session: Session, invitation: SurveyInvitation) -> str:
    return respondent_locale(session, invitation)


def _resume_page(pages: list[Page], answers: Mapping[str, str]) -> int:
    """Where a returning parent goes on: the page after the last one with an answer."""
    last = 0
    for number, page in enumerate(pages, start=1):
        if any(q.id in answers for q in page.questions):
            last = number
    return min(last + 1, len(pages)) if last else 1


def _question_view(page: Page, lang: str, answers: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "id": q.id,
            "type": q.type,
            "text": tr(q.text, lang),
            "hint": tr(q.hint, lang) if q.hint else "",
            "answers": q.answers(lang) if q.type != "text" else [],
            "value": answers.get(q.id, ""),
            "max_length": q.max_length,
        }
        for q in page.questions
    ]


def survey_routes(app: Services) -> list[Route]:
    """The routes of the survey pages; ``app.now()`` is the clock (tests inject one)."""
    pages = _SurveyPages(app)
    return [
        Route("/s/{token}", pages.first_page, methods=["GET"]),
        Route("/s/{token}/done", pages.thanks, methods=["GET"]),
        Route("/s/{token}/{page:int}", pages.numbered_page, methods=["GET", "POST"]),
    ]


class _SurveyPages:
    """The endpoints; each page's database work runs in a worker thread."""

    def __init__(self, app: Services) -> None:
        self.app = app
        # A parent posts a handful of pages; more than this from one address is not a parent.
        self.throttle = Throttle(limit=30, window=60)

    def surveys(self) -> Mapping[str, Survey]:
        return default_surveys()

    def closed(
        self, state: str, lang: str, survey: Survey, status: int | None = None
    ) -> HTMLResponse:
        t = i18n.texts(lang)
        if state == "expired":
            title = t.gettext("This link has expired")
            text = t.gettext(
                "The questionnaire can no longer be answered through this link. Thank "
                "you for wanting to help."
            )
            return message_page(lang, [(lang, title, [text])], status=status or 410)
        if state == "thanks":
            title = t.gettext("Thank you!")
            thanks = tr(survey.thanks, lang) or t.gettext("Thank you for your answers.")
            paragraphs = [thanks, t.gettext("You can close this page now.")]
        else:
            title = t.gettext("Already answered")
            paragraphs = [
                t.gettext("This questionnaire has already been answered. Thank you for your help.")
            ]
        return message_page(lang, [(lang, title, paragraphs)], status=status or 200)

    def show(self, request: Request, token: str, number: int | None) -> Response:
        now: datetime = self.app.now()
        with self.app.session_factory() as session, session.begin():
            found = lookup(session, token, self.surveys(), now)
            if found.invitation is None or found.survey is None:
                return unknown_page()
            invitation, survey = found.invitation, found.survey
            lang = _lang(request, _recipient_lang(session, invitation))
            if found.state != "open":
                return self.closed(found.state, lang, survey)
            if request.method == "GET":
                mark_opened(invitation, now)  # not on HEAD: link previews should not count
            external = survey.external_link(token)
            if external is not None:
                return redirect(external)
            pages = survey.pages_for(invitation.wave)
            answers = saved_answers(session, invitation.id)
            resumed = number is None and bool(answers)
            if number is None:
                number = _resume_page(pages, answers)
            if not 1 <= number <= len(pages):
                return redirect(f"/s/{token}?lang={lang}")
            page = pages[number - 1]
            return html(
                "survey_page.html",
                lang=lang,
                other_lang=other_language(lang)[0],
                other_name=other_language(lang)[1],
                page_title=f"{tr(survey.title, lang)} ({number}/{len(pages)})",
                title=tr(survey.title, lang),
                intro=tr(survey.intro, lang),
                resumed=resumed,
                page_heading=tr(page.title, lang) if page.title else "",
                questions=_question_view(page, lang, answers),
                number=number,
                total=len(pages),
                action=f"/s/{token}/{number}?lang={lang}",
            )

    def submit(self, request: Request, token: str, number: int, body: bytes) -> Response:
        now: datetime = self.app.now()
        with self.app.session_factory() as session, session.begin():
            found = lookup(session, token, self.surveys(), now)
            if found.invitation is None or found.survey is None:
                return unknown_page()
            # The token opened an invitation: only now is the form parsed (from bytes read
            # within the limit). Browsers post our pages' forms url-encoded.
            try:
                form = dict(
                    parse_qsl(
                        body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS
                    )
                )
            except (UnicodeDecodeError, ValueError):
                return bad_request()
            invitation, survey = found.invitation, found.survey
            lang = _lang(request, _recipient_lang(session, invitation))
            if found.state != "open":
                return self.closed(found.state, lang, survey)
            pages = survey.pages_for(invitation.wave)
            if survey.external_url is not None or not 1 <= number <= len(pages):
                return redirect(f"/s/{token}?lang={lang}")
            submitted = {q.id: form.get(f"q_{q.id}") for q in pages[number - 1].questions}
            save_answers(session, invitation, survey, submitted, now)
            if form.get("nav") == "back":
                return redirect(f"/s/{token}/{max(number - 1, 1)}?lang={lang}")
            if number < len(pages):
                return redirect(f"/s/{token}/{number + 1}?lang={lang}")
            complete(session, invitation, now, via="web")
            return redirect(f"/s/{token}/done?lang={lang}")

    def done(self, request: Request, token: str) -> Response:
        now: datetime = self.app.now()
        with self.app.session_factory() as session:
            found = lookup(session, token, self.surveys(), now)
            if found.invitation is None or found.survey is None:
                return unknown_page()
            lang = _lang(request, _recipient_lang(session, found.invitation))
            if found.state == "open":
                return redirect(f"/s/{token}?lang={lang}")
            return self.closed(
                "thanks" if found.state == "used" else found.state, lang, found.survey
            )

    async def first_page(self, request: Request) -> Response:
        if (throttled := lookup_refused(request)) is not None:
            return throttled
        return await run_in_threadpool(self.show, request, request.path_params["token"], None)

    async def numbered_page(self, request: Request) -> Response:
        token, number = request.path_params["token"], int(request.path_params["page"])
        if request.method == "POST":
            if not self.throttle.allow(client_address(request)):
                return too_many(self.throttle.window)
            try:
                body = await read_body(request, self.app.settings.max_form_bytes)
            except TooLarge:
                return too_large()
            except BadForm:
                return bad_request()
            for attempt in range(3):
                try:
                    return await run_in_threadpool(self.submit, request, token, number, body)
                except (IntegrityError, OperationalError):
                    # A double tap on a slow connection: the same page stored twice at once.
                    # The first one won; storing again finds its rows and changes nothing.
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")
        if (throttled := lookup_refused(request)) is not None:
            return throttled
        return await run_in_threadpool(self.show, request, token, number)

    async def thanks(self, request: Request) -> Response:
        if (throttled := lookup_refused(request)) is not None:
            return throttled
        return await run_in_threadpool(self.done, request, request.path_params["token"])
