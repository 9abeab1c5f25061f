"""The ``venskab`` console script.

Start-up imports some thousand modules and classes; the cyclic garbage collector would walk the
growing heap again and again meanwhile (about a fifth of a cron ``venskab tick``). It is off
while the command line loads, and on again, with what was loaded frozen out of its sight,
before the command runs (:func:`venskab.cli.main`)."""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    from venskab.cli import main as cli

    cli()
