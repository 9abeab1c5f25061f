"""Run the ``venskab`` console script with its stderr on a pseudo-terminal, as a person at a
terminal sees it (progress bars appear only there)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path


def run_at_a_terminal(
    args: list[str], env: Mapping[str, str], timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], str]:
    """The finished process (stdout captured) and what its stderr showed on the terminal."""
    leader, follower = pty.openpty()
    shown = bytearray()

    def read_terminal() -> None:  # all along: a full pseudo-terminal would block the command
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    venskab = Path(sys.executable).parent / "venskab"
    done = subprocess.run(
        [str(venskab), *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, **env, "COLUMNS": "100"},
        timeout=timeout,
        text=True,
    )
    os.close(follower)
    reader.join(timeout=10)
    os.close(leader)
    return done, shown.decode(errors="replace")
