"""Memory of the web side under oversized unauthenticated posts to ``/twilio/sms``.

Starts the web app with uvicorn in a child process (SQLite in a temporary directory), then
sends COUNT posts of SIZE megabytes at once, each with a forged signature, half with a declared
``Content-Length`` and half chunked, and prints the child's resident memory before and at its
peak (``VmHWM`` from /proc), and how long the 413 answers took::

    .venv/bin/python -m bench.hostile_post [--count 6] [--size-mb 90]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHUNK = b"x" * 65536


def _serve(port: int, database: str) -> None:
    import uvicorn

    from venskab.cli.common import AppContext
    from web.app import create_app

    app = AppContext(
        env={
            "VENSKAB_DATABASE_URL": database,
            "VENSKAB_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "bench-token",
            "TWILIO_FROM": "+4520123499",
        }
    )
    app.upgrade()
    uvicorn.run(create_app(app.services), host="127.0.0.1", port=port, log_level="error")


def _memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _post(port: int, size: int, chunked: bool, timings: list[float]) -> None:
    started = time.perf_counter()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        "POST /twilio/sms HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Twilio-Signature: forged\r\n{framing}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        sent = 0
        try:
            while sent < size:
                piece = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
                sock.sendall(piece)
                sent += len(CHUNK)
                sock.setblocking(False)
                try:
                    if sock.recv(1, socket.MSG_PEEK):
                        break  # the server has answered: stop sending
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(60)
        answer = sock.recv(64)
    timings.append(time.perf_counter() - started)
    assert answer.startswith(b"HTTP/1.1 413"), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--size-mb", type=int, default=90)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.database)
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/bench.db"
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.hostile_post",
                "--serve",
                str(port),
                "--database",
                database,
            ],
            env={**os.environ, "PYTHONPATH": os.getcwd()},
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the web app did not start") from None
                    time.sleep(0.1)
            before = _memory_kb(child.pid, "VmRSS")
            timings: list[float] = []
            size = args.size_mb * 1024 * 1024
            threads = [
                threading.Thread(target=_post, args=(port, size, n % 2 == 1, timings))
                for n in range(args.count)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            peak = _memory_kb(child.pid, "VmHWM")
        finally:
            child.terminate()
            child.wait(timeout=10)
    print(f"{args.count} posts of {args.size_mb} MB to /twilio/sms (forged signature)")
    print(f"  answers     {len(timings)} x 413, slowest {max(timings) * 1000:.0f} ms")
    print(
        f"  server RSS  {before / 1024:.0f} MB before, peak {peak / 1024:.0f} MB "
        f"(+{(peak - before) / 1024:.1f} MB)"
    )


if __name__ == "__main__":
    main()
