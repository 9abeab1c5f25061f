"""venskab: follow-up of volunteer friendship-family programmes.

This package is the composition root: settings, the command line and the runtime that
wires ``store``, ``scheduler``, ``bot`` and ``web`` together.
"""

__version__ = "0.1.0"
