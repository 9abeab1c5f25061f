"""`venskab run` on the embedded default, as a newcomer starts it: a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_seeds_the_demo_prints_a_login_serves_the_outbox_and_stops_cleanly(
    tmp_path: Path, stop: signal.Signals
) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VENSKAB_", "TELEGRAM_", "TWILIO_", "SMTP_", "MAIL_"))
    }
    env["VENSKAB_HTTP_PORT"] = str(port)
    venskab = Path(sys.executable).parent / "venskab"
    process = subprocess.Popen(
        [str(venskab), "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.startswith("Stop with Ctrl+C"):
                break
        banner = "".join(output)
        assert "venskab is running." in banner, banner
        assert "demo data seeded" in banner
        assert "sms        sandbox" in banner
        assert (tmp_path / "venskab.db").exists()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"ok": True}
        # Every page with personal data needs a login, also on this machine: the banner
        # prints the demo's.
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/outbox").headers["location"] == "/login?next=%2Foutbox"
        found = re.search(r"demo login (\S+)  password (\S+)  \(procesleder", banner)
        assert found, banner
        with httpx.Client(base_url=url) as client:
            form = client.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token
            signed_in = client.post(
                "/login",
                data={"csrf": token.group(1), "login": found.group(1), "password": found.group(2)},
            )
            assert signed_in.status_code == 303
            page = client.get("/outbox").text
            assert "Udbakke" in page and "sandkasse" in page
        # People's contact details never reach the log.
        assert "+452012" not in banner and "@example.org" not in banner
    finally:
        process.send_signal(stop)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert "venskab stopped." in rest
    assert "Traceback" not in rest and "Aborted" not in rest
