"""A throwaway PostgreSQL server from the machine's own packages (Debian `postgresql`), on loopback.

Tests start it themselves (`make postgres` installs the package); nothing here fakes the engine.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from movrec_dagster.devserver import free_port


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (Debian keeps them off PATH), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class LocalPostgres:
    """initdb + pg_ctl in a temporary folder; password (scram) authentication over TCP on 127.0.0.1.

    PostgreSQL refuses to run as root: as root, the server runs as the `postgres` system user.
    """

    user = "dagster"

    def __init__(self, password: str) -> None:
        bindir = server_binaries()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries not found (make postgres installs them)")
        self.bindir = bindir
        self.password = password
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="movrec-pg-"))
        self.data = self.root / "data"
        self.as_owner: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_owner, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> LocalPostgres:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.as_owner:
            shutil.chown(self.root, "postgres")
            shutil.chown(pwfile, "postgres")
        self.root.chmod(0o700)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "-E",
            "UTF8",
        )
        pwfile.unlink()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
        # -l: the server's output goes to a file, not to pipes this process would wait on
        log = self.root / "server.log"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start")
        return self

    def connect(self, database: str = "postgres"):  # noqa: ANN201 - psycopg2 connection
        import psycopg2

        deadline = time.monotonic() + 30
        while True:
            try:
                return psycopg2.connect(
                    host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname=database
                )
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def create_database(self, name: str) -> str:
        connection = self.connect()
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return name

    def env(self, database: str) -> dict[str, str]:
        """The variables docker/dagster.yaml reads its connection from."""
        return {
            "DAGSTER_POSTGRES_HOST": "127.0.0.1",
            "DAGSTER_POSTGRES_PORT": str(self.port),
            "DAGSTER_POSTGRES_USER": self.user,
            "DAGSTER_POSTGRES_PASSWORD": self.password,
            "DAGSTER_POSTGRES_DB": database,
        }

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
