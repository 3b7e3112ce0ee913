"""PostgreSQL for the local stack: system binaries, a project-local cluster on loopback."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ops.devstack import processes
from shared.settings import Settings

PREFERRED_MAJOR = "15"
DATABASE = "alexandria"
SUPERUSER = "alexandria"


@dataclass(frozen=True)
class PostgresPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"


def paths(settings: Settings) -> PostgresPaths:
    return PostgresPaths(settings.dev.state_dir / "postgres")


def find_bindir() -> Path | None:
    preferred = Path(f"/usr/lib/postgresql/{PREFERRED_MAJOR}/bin")
    if (preferred / "initdb").exists():
        return preferred
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def install_binaries() -> Path:
    """Install PostgreSQL 15 (pg_trgm ships in it) with apt when the binaries are missing."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise processes.StackError(
            "PostgreSQL binaries not found. Install them: sudo apt-get install -y postgresql-15"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", f"postgresql-{PREFERRED_MAJOR}"],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise processes.StackError(f"{' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    bindir = find_bindir()
    if bindir is None:
        raise processes.StackError("apt installed postgresql but no initdb was found")
    return bindir


def as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` system user."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def give_to_server_user(pp: PostgresPaths) -> None:
    """As root, hand the cluster folder to `postgres` and let it traverse the parents."""
    pp.root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam("postgres")
    for path in [pp.root, *pp.root.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    for parent in pp.root.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)  # execute only: lets the server reach its folder


def dsn(settings: Settings) -> str:
    return f"postgresql://{SUPERUSER}@127.0.0.1:{settings.dev.postgres_port}/{DATABASE}"


async def _answers(port: int, database: str) -> bool:
    try:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user=SUPERUSER, database=database, timeout=3
        )
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    try:
        return bool(await conn.fetchval("SELECT 1") == 1)
    finally:
        await conn.close()


async def _ensure_database(port: int) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user=SUPERUSER, database="postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


def is_healthy(settings: Settings) -> bool:
    return asyncio.run(_answers(settings.dev.postgres_port, DATABASE))


def _initdb(bindir: Path, pp: PostgresPaths) -> None:
    if (pp.data / "PG_VERSION").exists():
        return
    give_to_server_user(pp)
    result = subprocess.run(
        as_server_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(pp.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise processes.StackError(f"initdb failed:\n{result.stdout}{result.stderr}")


def start(settings: Settings) -> str:
    """Start the cluster unless it answers; wait until a query is answered."""
    if is_healthy(settings):
        return "already running"
    pp = paths(settings)
    bindir = find_bindir() or install_binaries()
    _initdb(bindir, pp)
    give_to_server_user(pp)
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={settings.dev.postgres_port} "
        "-c unix_socket_directories='' -c max_connections=200 -c shared_buffers=256MB"
    )
    result = subprocess.run(
        as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(pp.data),
                "-l",
                str(pp.log),
                "-o",
                options,
                "-w",
                "-t",
                str(int(settings.dev.start_timeout_s)),
                "start",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise processes.failure("PostgreSQL", f"did not start ({result.stderr.strip()})", pp.log)
    deadline = time.monotonic() + settings.dev.start_timeout_s
    while not asyncio.run(_answers(settings.dev.postgres_port, "postgres")):
        if time.monotonic() > deadline:
            raise processes.failure("PostgreSQL", "did not answer a query", pp.log)
        time.sleep(0.2)
    asyncio.run(_ensure_database(settings.dev.postgres_port))
    return "started"


def stop(settings: Settings) -> bool:
    """Fast shutdown, waited for; returns whether it was running. Raises StackError when the
    server is still up afterwards (pg_ctl's own wait can run out on a loaded machine: the
    postmaster is then waited for as long again, and only then is the failure reported)."""
    pp = paths(settings)
    bindir = find_bindir()
    pid_file = pp.data / "postmaster.pid"
    if bindir is None or not pid_file.exists():
        return False
    timeout_s = settings.dev.start_timeout_s
    command = [str(bindir / "pg_ctl"), "-D", str(pp.data), "-m", "fast", "-w"]
    result = subprocess.run(
        as_server_user([*command, "-t", str(int(timeout_s)), "stop"]),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return True
    deadline = time.monotonic() + timeout_s
    while _postmaster_alive(pid_file) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _postmaster_alive(pid_file):
        raise processes.failure(
            "PostgreSQL", f"did not stop ({result.stderr.strip() or result.stdout.strip()})", pp.log
        )
    return True


def _postmaster_alive(pid_file: Path) -> bool:
    """The postmaster named in postmaster.pid (its first line) still runs."""
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return False
    return processes.is_alive(pid)
