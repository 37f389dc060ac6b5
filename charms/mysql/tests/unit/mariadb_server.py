"""A throw-away MariaDB server for the test session (real SQL, no mocks).

Started from the Debian `mariadb-server` package's binaries on a temporary data directory,
a free loopback port and a socket in the temporary directory, as root (`--user=root`). Root
gets a password and a `root@127.0.0.1` account, as the charm's image entrypoint sets up
(`MYSQL_ROOT_HOST=127.0.0.1`). Server options come from the charm's own `server_args`, so the
options the charm passes are checked against a real server too.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pymysql
from mysql_server import MysqlConfig, generate_password, server_args

SKIP_REASON = "mariadb-server Debian package not installed"


@dataclasses.dataclass(frozen=True)
class RunningServer:
    """Where the test server listens and its root password."""

    host: str
    port: int
    root_password: str
    socket: str
    log: Path


def in_ci() -> bool:
    """Whether the CI environment variable says we run in CI."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_binaries() -> tuple[str, str] | None:
    """Paths of mariadbd and mariadb-install-db, or None when the package is missing."""
    server = shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if os.access("/usr/sbin/mariadbd", os.X_OK) else None
    )
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not server or not install:
        return None
    return server, install


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(base: Path, server: str, install: str) -> tuple[subprocess.Popen[bytes], RunningServer]:
    """Initialise a data directory under `base`, start the server and set a root password.

    Raises:
        RuntimeError: initialisation failed or the server did not come up within 60 s.
    """
    datadir = base / "data"
    sock = base / "mysqld.sock"
    log = base / "mysqld.log"
    subprocess.run(
        [
            install,
            "--no-defaults",
            "--auth-root-authentication-method=normal",
            f"--datadir={datadir}",
            "--user=root",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    args = [
        server,
        "--no-defaults",
        # The charm's own options first; the overrides below win (last one counts).
        *server_args(MysqlConfig(memory_profile="testing", max_connections=50)),
        f"--datadir={datadir}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={sock}",
        f"--pid-file={base / 'mysqld.pid'}",
        f"--log-error={log}",
        "--user=root",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"mariadbd exited with {proc.returncode}: {log.read_text()[-2000:]}"
            )
        try:
            conn = pymysql.connect(
                unix_socket=str(sock), user="root", password="", autocommit=True
            )
            break
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise RuntimeError("mariadbd did not accept connections within 60 s") from None
            time.sleep(0.2)
    password = generate_password()
    with conn.cursor() as cur:
        # Keep root@localhost and root@127.0.0.1 (what the image entrypoint leaves), no others.
        cur.execute("SELECT Host FROM mysql.user WHERE User = 'root'")
        for (host,) in cur.fetchall():
            if host not in ("localhost", "127.0.0.1"):
                cur.execute("DROP USER 'root'@%s", (host,))
        cur.execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'")
        cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (password,))
        cur.execute("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
    conn.close()
    return proc, RunningServer("127.0.0.1", port, password, str(sock), log)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server (SIGTERM, then SIGKILL after 30 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
