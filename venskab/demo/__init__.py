"""Demo data for the embedded default: one match per programme, each at another stage of its year.

People are named by role only ("Barn A", "Venskabsfamilie 1"); phone numbers and addresses are
example values. After seeding, the past is replayed through the real planner and dispatcher with
sandbox channels, so the outbox shows what the system would have sent until today. The demo's
staff members act on their cases as diligent staff do (:func:`act_as_staff`), so the volumes of
staff messages are those of real use; ``bench/demo_year.py`` counts them.
"""

from __future__ import annotations

from venskab.demo.cast import demo_logins
from venskab.demo.history import CHILD_VOICE_ANSWERS, act_as_staff, replay
from venskab.demo.seed import seed, seed_if_empty

__all__ = [
    "CHILD_VOICE_ANSWERS",
    "act_as_staff",
    "demo_logins",
    "replay",
    "seed",
    "seed_if_empty",
]
