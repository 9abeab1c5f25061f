"""A refusal whose reason a person reads: staff on a web page or at the command line.

The domain layer refuses (an unknown case, a pause that ends before it starts) before it knows
who reads the reason, so a :class:`Refused` carries the reason as a :class:`~followup.said.Said`:
``str(exc)`` is the English (for a log or a traceback), ``exc.text(texts)`` the reader's own
language. The domain's error classes (``AckError``, ``MatchError``...) derive from it.
"""

from __future__ import annotations

from followup.said import Said
from scheduler.i18n import SOURCE_LANGUAGE, Texts, texts


class Refused(ValueError):
    """Refused, for a reason in words: a message id with its values."""

    def __init__(self, reason: Said) -> None:
        self.reason = reason
        super().__init__(reason.text(texts(SOURCE_LANGUAGE)))

    def text(self, texts: Texts) -> str:
        """The reason in the reader's language."""
        return self.reason.text(texts)
