"""Words for a reader whose language is known only where they are shown.

The domain layer says what is wrong (an import row's problem, why a person cannot be erased)
before it knows who reads it: a :class:`Said` holds the English message id and its values, and
the web page or the command line turns it into the reader's language with ``said.text(texts)``.
``make catalogs`` extracts the first argument of :func:`said` as a message id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduler.i18n import Texts


@dataclass(frozen=True)
class Said:
    """Words for a reader whose language is known only where they are shown: a message id and
    its values (a value may be a :class:`Said` too, translated with it)."""

    id: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def text(self, texts: Texts) -> str:
        return texts.gettext(self.id, **{k: _text(v, texts) for k, v in self.values.items()})


def _text(value: Any, texts: Texts) -> Any:
    if isinstance(value, Said):
        return value.text(texts)
    if isinstance(value, tuple):  # several values, listed
        return ", ".join(str(_text(v, texts)) for v in value)
    return value


def said(message: str, /, **values: Any) -> Said:
    return Said(message, values)
