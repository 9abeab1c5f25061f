"""What the fuzzing files (``tests/test_fuzz*.py``) share: their settings and hostile values.

The number of examples comes from the profile loaded in ``tests/conftest.py`` (few locally, a
fixed derandomized set in CI); ``FUZZ`` only allows the live fixtures to be shared by examples.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Base

FUZZ = settings(
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
# What any input may be answered with: never a 500.
OK_STATUSES = {200, 204, 303, 307, 400, 403, 404, 405, 409, 410, 413, 422, 429}

# Text that a hostile sender would try: any script, control characters, formula starts, huge
# numbers, dates far out (surrogates are impossible in UTF-8 form data and left out).
hostile_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    [
        '=HYPERLINK("http://x")',
        "\x00\x07\x1b[2J",
        "99999999999999999999",
        "-1",
        "31.12.9999-31.12.9999",
        "01.01.0001",
        "STOP",
        "ja",
        "1",
        "٣",
        "",
    ]
)


def row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """How many rows each table holds, to see which tables an input added to."""
    with factory() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def grown(before: dict[str, int], after: dict[str, int]) -> set[str]:
    """The tables that gained rows."""
    return {name for name, count in after.items() if count != before.get(name, 0)}
