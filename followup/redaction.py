"""What a CPR number in free text becomes: a marker in the writer's language, from the catalogs.

The pattern and the check are in :mod:`store.validation` (the lowest layer reads no catalog);
the words are here.
"""

from __future__ import annotations

from scheduler import i18n
from scheduler.i18n import N_
from store.validation import redact_cpr

CPR_REMOVED = N_("[CPR number removed]")


def redact(text: str, locale: str) -> str:
    """``text`` with every CPR number replaced by :data:`CPR_REMOVED` in ``locale``."""
    try:
        texts = i18n.texts(locale)
    except LookupError:
        texts = i18n.texts("da")
    return redact_cpr(text, locale, marker=texts.gettext(CPR_REMOVED))
