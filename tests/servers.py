"""Real database servers from Debian's packages, started on 127.0.0.1 for the test session.

Each fixture starts one server on a free port in its own temporary directory,
yields a URL in the generated app's format (see blueprints/CONTEXT.md) and stops
the server afterwards. Import the fixtures into a conftest to use them.

A missing server binary skips the tests that need it, with the reason (and the
Debian package to install) in pytest's summary; under CI=true it fails them,
because CI must install every server it tests against.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import unavailable

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
ATTEMPTS = 3
"""Start attempts: a free port can be taken by someone else before the server binds it."""



def _binary(name: str, package: str, search: tuple[str, ...] = ()) -> str:
    """Path of `name` (on PATH or in `search`), or skip/fail naming the Debian package."""
    found = next((Path(d) / name for d in search if (Path(d) / name).is_file()), None)
    found = found or (Path(which) if (which := shutil.which(name)) else None)
    if found is None:
        unavailable(f"{name} not found: install Debian's {package} package")
    return str(found)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _run(args: list[str], what: str, log: Path, **kwargs: Any) -> None:
    """Run a set-up command to completion; fail with its output if it fails."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} did not finish within 120 s", pytrace=False)
    log.write_text(f"$ {' '.join(args)}\n{result.stdout}\n{result.stderr}")
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def _start(
    what: str,
    command: Callable[[int], list[str]],
    ready: Callable[[int], bool],
    log: Path,
    **popen: Any,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `command(port)` until `ready(port)`, within START_TIMEOUT per attempt."""
    for attempt in range(1, ATTEMPTS + 1):
        port = _free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                command(port), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if ready(port):
                return process, port
            time.sleep(0.1)
        exited = process.poll()
        _stop(process)
        if exited is None:
            pytest.fail(
                f"{what} was not ready within {START_TIMEOUT:g} s; its log ends:\n{_tail(log)}",
                pytrace=False,
            )
        if attempt == ATTEMPTS:
            pytest.fail(
                f"{what} exited with {exited} on {ATTEMPTS} attempts; its log ends:\n{_tail(log)}",
                pytrace=False,
            )
    raise AssertionError("unreachable")


def _workdir(prefix: str, owner: str | None = None) -> Path:
    """A fresh directory under the system temp dir (reachable by `owner`, if given)."""
    path = Path(tempfile.mkdtemp(prefix=f"archgen-{prefix}-"))
    if owner is not None:
        shutil.chown(path, owner, owner)
    return path


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """Redis with a password: yields `redis://:<password>@127.0.0.1:<port>/0`."""
    binary = _binary("redis-server", "redis-server")
    password = secrets.token_hex(16)
    workdir = _workdir("redis")

    def ready(port: int) -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
                reply = b""
                while b"PONG" not in reply and len(reply) < 512:
                    chunk = sock.recv(512)
                    if not chunk:
                        break
                    reply += chunk
                return b"+OK\r\n+PONG\r\n" in reply
        except OSError:
            return False

    try:
        process, port = _start(
            "redis-server",
            lambda port: [
                binary,
                "--port", str(port),
                "--bind", HOST,
                "--requirepass", password,
                "--dir", str(workdir),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            ready,
            workdir / "redis.log",
        )
        try:
            yield f"redis://:{password}@{HOST}:{port}/0"
        finally:
            _stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _postgres_bindirs() -> tuple[str, ...]:
    found = glob.glob("/usr/lib/postgresql/*/bin")
    return tuple(sorted(found, key=lambda d: int(Path(d).parent.name), reverse=True))


def _unprivileged_user() -> str | None:
    """The user to run postgres as: PostgreSQL refuses to run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    pytest.fail("running as root, and neither a postgres nor a nobody user exists", pytrace=False)
    return None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """PostgreSQL with a password-auth owner of database `app`.

    Yields `postgresql://app:<password>@127.0.0.1:<port>/app`.
    """
    bindirs = _postgres_bindirs()
    initdb = _binary("initdb", "postgresql", bindirs)
    bindir = Path(initdb).resolve().parent  # /usr/local/bin may hold symlinks
    postgres, psql, pg_isready = (str(bindir / name) for name in ("postgres", "psql", "pg_isready"))
    user = _unprivileged_user()
    as_user: dict[str, Any] = {"user": user, "group": user} if user else {}
    workdir = _workdir("postgres", owner=user)
    process = None
    try:
        data = workdir / "data"
        superuser_password, password = secrets.token_hex(16), secrets.token_hex(16)
        pwfile = workdir / "pwfile"
        pwfile.write_text(superuser_password + "\n")
        if user:
            shutil.chown(pwfile, user, user)
        _run(
            [
                initdb, "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--no-locale", "--encoding=UTF8", "--no-sync",
            ],
            "initdb",
            workdir / "initdb.log",
            cwd=workdir,
            **as_user,
        )
        process, port = _start(
            "postgres",
            lambda port: [
                postgres, "-D", str(data), "-p", str(port),
                "-c", f"listen_addresses={HOST}",
                "-c", f"unix_socket_directories={workdir}",
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
            ],
            # TCP answers only once start-up (and recovery) is over.
            lambda port: _accepts(port)
            and subprocess.run([pg_isready, "-q", "-h", HOST, "-p", str(port)], check=False).returncode
            == 0,
            workdir / "postgres.log",
            cwd=workdir,
            **as_user,
        )
        _run(
            [
                psql, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", HOST, "-p", str(port), "-U", "postgres", "-d", "postgres",
                "-c", f"CREATE ROLE app LOGIN PASSWORD '{password}'",
                "-c", "CREATE DATABASE app OWNER app",
            ],
            "creating the app role and database",
            workdir / "setup.log",
            env={**os.environ, "PGPASSWORD": superuser_password},
        )
        yield f"postgresql://app:{password}@{HOST}:{port}/app"
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[str]:
    """MariaDB (for the mysql engine) with user `app` owning database `app`.

    Yields `mysql://app:<password>@127.0.0.1:<port>/app`.
    """
    mariadbd = _binary("mariadbd", "mariadb-server", ("/usr/sbin",))
    install_db = _binary("mariadb-install-db", "mariadb-server")
    client = _binary("mariadb", "mariadb-client")
    workdir = _workdir("mariadb")
    process = None
    try:
        data, sock = workdir / "data", workdir / "mysqld.sock"
        # mariadbd refuses root unless told so explicitly; otherwise it runs as us.
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        password = secrets.token_hex(16)
        _run(
            [
                install_db, "--no-defaults", f"--datadir={data}", *as_root,
                "--auth-root-authentication-method=normal", "--skip-test-db",
            ],
            "mariadb-install-db",
            workdir / "install.log",
            cwd=workdir,
        )
        process, port = _start(
            "mariadbd",
            lambda port: [
                mariadbd, "--no-defaults", f"--datadir={data}", *as_root,
                f"--port={port}", f"--bind-address={HOST}", f"--socket={sock}",
                f"--pid-file={workdir / 'mysqld.pid'}", "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0",
            ],
            _accepts,
            workdir / "mariadbd.log",
            cwd=workdir,
        )
        _run(
            [
                client, "--no-defaults", f"--socket={sock}", "-uroot", "-e",
                "DELETE FROM mysql.global_priv WHERE User = '';"
                " FLUSH PRIVILEGES;"
                " CREATE DATABASE app CHARACTER SET utf8mb4;"
                f" CREATE USER 'app'@'%' IDENTIFIED BY '{password}';"
                " GRANT ALL PRIVILEGES ON app.* TO 'app'@'%';",
            ],
            "creating the app user and database",
            workdir / "setup.log",
        )
        yield f"mysql://app:{password}@{HOST}:{port}/app"
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
