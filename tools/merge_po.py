"""A git merge driver for gettext catalogs: the union of both sides' messages.

Two branches that each add texts change the same catalogs in nearby lines (the entries are
sorted), so a plain text merge conflicts although nothing contradicts. This driver reads the
ancestor and both sides with Babel and writes every message of either side; where both sides
changed one message's translation differently, ours wins and the driver says so (a translator
then reads that entry again). Register it once per clone (README, "Wording"):

    git config merge.po.driver ".venv/bin/python tools/merge_po.py %O %A %B"

``.gitattributes`` routes ``*.po`` and ``*.pot`` to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po


def _read(path: str) -> Catalog:
    with Path(path).open("rb") as fh:
        return read_po(fh)


def _key(message: object) -> object:
    return message.id if not getattr(message, "context", None) else (message.id, message.context)  # type: ignore[attr-defined]


def merge(base_path: str, ours_path: str, theirs_path: str) -> int:
    base, ours, theirs = _read(base_path), _read(ours_path), _read(theirs_path)
    base_strings = {_key(m): m.string for m in base if m.id}
    result = ours
    disagreements = 0
    our_keys = {_key(m) for m in ours if m.id}
    theirs_keys = {_key(m) for m in theirs if m.id}
    base_keys = set(base_strings)
    # A message one side removed (and the other left as it was) goes.
    for message in list(ours):
        key = _key(message)
        removed_by_them = message.id and key in base_keys and key not in theirs_keys
        if removed_by_them and message.string == base_strings[key]:
            result.delete(message.id, context=message.context)
    for message in theirs:
        if not message.id:
            continue
        key = _key(message)
        if key in base_keys and key not in our_keys:
            continue  # we removed it
        mine = result.get(message.id, context=message.context)
        if mine is None:
            result[message.id] = message
            continue
        if mine.string == message.string:
            continue
        base_string = base_strings.get(key)
        if mine.string == base_string or not mine.string:
            mine.string = message.string
            mine.flags = message.flags
        elif message.string != base_string and message.string:
            disagreements += 1
            print(f"merge_po: both sides translated {message.id!r}; kept ours", file=sys.stderr)
    with Path(ours_path).open("wb") as fh:
        write_po(fh, result, width=0, omit_header=False, sort_output=True, no_location=True)
    return 0


if __name__ == "__main__":
    sys.exit(merge(*sys.argv[1:4]))
