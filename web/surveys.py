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
from store.models import SurveyInvitation
from web.limits import (
    BadForm,
    Throttle,
    TooLarge,
    bad_request,
    client_address,
    read_body,
    too_large,
    too_many,
)

if TYPE_CHECKING:
    from followup.services import Services

PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every page here is HTML
    trim_blocks=True,
    lstrip_blocks=True,
)

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

UI: dict[str, dict[str, str]] = {
    "da": {
        "language_name": "Dansk",
        "other_language": "English",
        "page": "Side {n} af {total}",
        "next": "Næste",
        "back": "Tilbage",
        "finish": "Send svar",
        "skip_note": "Du kan springe et spørgsmål over. Dine svar gemmes, hver gang du går videre.",
        "resumed": "Velkommen tilbage. Dine svar er gemt, og du kan fortsætte her.",
        "thanks_title": "Tak!",
        "thanks": "Tak for dine svar.",
        "close": "Du kan lukke siden nu.",
        "used_title": "Allerede besvaret",
        "used": "Dette spørgeskema er allerede besvaret. Tak for hjælpen.",
        "expired_title": "Linket er udløbet",
        "expired": "Spørgeskemaet kan ikke længere besvares via dette link. "
        "Tak, fordi du ville hjælpe.",
        "unknown_title": "Linket virker ikke",
        "unknown": "Vi kan ikke finde et spørgeskema til dette link. "
        "Tjek, at hele linket er kommet med fra din sms eller mail.",
        "title": "Spørgeskema",
    },
    "en": {
        "language_name": "English",
        "other_language": "Dansk",
        "page": "Page {n} of {total}",
        "next": "Next",
        "back": "Back",
        "finish": "Send answers",
        "skip_note": "You can skip any question. Your answers are saved each time you go on.",
        "resumed": "Welcome back. Your answers are saved, and you can go on from here.",
        "thanks_title": "Thank you!",
        "thanks": "Thank you for your answers.",
        "close": "You can close this page now.",
        "used_title": "Already answered",
        "used": "This questionnaire has already been answered. Thank you for your help.",
        "expired_title": "This link has expired",
        "expired": "The questionnaire can no longer be answered through this link. Thank you for "
        "wanting to help.",
        "unknown_title": "This link does not work",
        "unknown": "We cannot find a questionnaire for this link. Please check that the whole link "
        "was copied from your text message or email.",
        "title": "Questionnaire",
    },
}
LANGS = tuple(UI)
MAX_FIELDS = 100


def other(lang: str) -> str:
    return "en" if lang == "da" else "da"


def html(template: str, status: int = 200, **values: Any) -> HTMLResponse:
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
        other_lang=other(lang) if lang else None,
        other_language=UI[lang]["other_language"] if lang else None,
        blocks=[{"lang": b[0], "title": b[1], "paragraphs": b[2]} for b in blocks],
        form=form,
    )


def unknown_page() -> HTMLResponse:
    """The same page for every link that fits nothing: in both languages, since we cannot know."""
    return message_page(
        None,
        [(lang, UI[lang]["unknown_title"], [UI[lang]["unknown"]]) for lang in LANGS],
        status=404,
    )


def _lang(request: Request, default: str) -> str:
    asked = request.query_params.get("lang")
    return asked if asked in UI else (default if default in UI else "da")


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
        t = UI[lang]
        if state == "expired":
            return message_page(
                lang, [(lang, t["expired_title"], [t["expired"]])], status=status or 410
            )
        thanks = tr(survey.thanks, lang) or t["thanks"]
        title = t["thanks_title"] if state == "thanks" else t["used_title"]
        text = [thanks, t["close"]] if state == "thanks" else [t["used"]]
        return message_page(lang, [(lang, title, text)], status=status or 200)

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
                other_lang=other(lang),
                t=UI[lang],
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
        return await run_in_threadpool(self.show, request, token, number)

    async def thanks(self, request: Request) -> Response:
        return await run_in_threadpool(self.done, request, request.path_params["token"])
