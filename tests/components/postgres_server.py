"""A throwaway PostgreSQL server for tests: its own cluster in a temporary directory, on a free loopback port.

Uses the server binaries of the system (Debian's ``postgresql`` package puts them in
``/usr/lib/postgresql/N/bin``; elsewhere ``initdb`` on ``PATH``, or ``$LIVEPIPE_POSTGRES_BIN``). As root
(CI), the cluster runs as the ``postgres`` user, since ``initdb`` refuses root. The superuser is
``livepipe`` with a password (scram-sha-256 over TCP), so tests use a real ``user:password@`` URL.

Without the binaries, :func:`skip_or_fail` skips the test with the reason, except under ``LIVEPIPE_CI=1``
(``.ci/run``), where it fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PASSWORD = "pg-test-Secret-9f3b"  # a throwaway cluster's password, visible in tests on purpose
USER = "livepipe"


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, or None."""
    env = os.environ.get("LIVEPIPE_POSTGRES_BIN")
    if env:
        return Path(env) if (Path(env) / "initdb").is_file() else None
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                    key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail under ``LIVEPIPE_CI=1`` (CI installs PostgreSQL: absence is a bug there)."""
    if os.environ.get("LIVEPIPE_CI") == "1":
        pytest.fail(f"{reason} (LIVEPIPE_CI=1: .ci/run installs Debian's postgresql package)")
    pytest.skip(f"{reason}: install PostgreSQL (Debian: apt-get install postgresql) to run this test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL cluster of its own; ``url(db)`` is a ``postgresql://livepipe:PASSWORD@127.0.0.1:PORT/db``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="livepipe-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, *args: str) -> None:
        r = subprocess.run([str(self.bin_dir / args[0]), *args[1:]], user=self.user, capture_output=True,
                           timeout=120, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {r.stderr.decode(errors='replace')[-2000:]}")

    def start(self) -> PostgresServer:
        """initdb, then start the server (retrying on another port if the chosen one was taken meanwhile)."""
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.user:
            os.chown(pwfile, pwd.getpwnam(self.user).pw_uid, -1)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile), "--auth=scram-sha-256",
                  "-E", "UTF8", "--locale=C.UTF-8")
        pwfile.unlink()
        last = ""
        for _ in range(5):
            self.port = _free_port()
            log = self.dir / "server.log"
            self.proc = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.dir),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"],
                user=self.user, stdout=subprocess.DEVNULL, stderr=open(log, "wb"), cwd=self.dir)  # noqa: SIM115
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.proc.poll() is None:
                r = subprocess.run([str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True)
                if r.returncode == 0:
                    return self
                time.sleep(0.1)  # polling the server's readiness, not synchronising on a guess
            last = log.read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"postgres did not start:\n{last}")

    def url(self, db: str = "postgres") -> str:
        """The URL of database ``db`` (with the password)."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        """Create database ``name``; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def cleanup(self) -> None:
        """Stop and remove the cluster directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
