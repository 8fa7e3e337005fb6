"""A real PostgreSQL (with pgvector) for the tests marked ``postgres``, from the pgserver wheel.

One server per test session, in a temporary folder; each test gets its own database, with
the schema migrated, dropped at the end. Skipped only when pgserver cannot be imported.

pgserver run as root creates a ``pgserver`` system user and runs the server as that user, so
the data folder must sit where that user can reach it: ``tempfile.mkdtemp`` under the
world-traversable temporary folder, not pytest's per-user ``tmp_path`` (mode 0700 as root).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    pgserver = pytest.importorskip("pgserver", reason="pgserver (PostgreSQL for the tests) is not installed")
    folder = tempfile.mkdtemp(prefix="rag-pgserver-")
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server
    finally:
        from rag.index.postgres.connections import close_pools

        close_pools()
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_server: Any) -> Iterator[str]:
    """A fresh, migrated database of its own for one test."""
    import psycopg

    from rag.index.postgres.backend import upgrade
    from rag.index.postgres.connections import close_pools

    name = f"rag_test_{next(_databases)}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    dsn: str = pg_server.get_uri(name)
    upgrade(dsn)
    try:
        yield dsn
    finally:
        close_pools()  # the engine's search connections, so the database can be dropped
        with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # a standby replays this too


@pytest.fixture(scope="session")
def pg_standby(pg_server: Any) -> Iterator[Callable[[str], str]]:
    """A streaming standby of ``pg_server`` (``pg_basebackup -R``), on its own socket folder.

    Yields a function from a database name to that database's DSN on the standby, which waits
    (bounded) until the standby has replayed the database's creation.
    """
    import pwd
    import subprocess
    import time
    from urllib.parse import parse_qs, urlparse

    import psycopg
    from pgserver._commands import POSTGRES_BIN_PATH

    user = pg_server.system_user  # "pgserver" when run as root, else None (the current user)
    folder = Path(tempfile.mkdtemp(prefix="rag-pgstandby-"))
    data = folder / "data"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    primary_socket = parse_qs(urlparse(pg_server.get_uri()).query)["host"][0]

    def run(*args: str) -> None:
        subprocess.run([str(POSTGRES_BIN_PATH / args[0]), *args[1:]], check=True, user=user, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip

    run("pg_basebackup", "-h", primary_socket, "-U", "postgres", "-D", str(data), "-R", "-X", "stream")
    run("pg_ctl", "-D", str(data), "-w", "-o", '-h ""', "-o", f"-k {folder}", "-l", str(folder / "log"), "start")

    def dsn(database: str) -> str:
        uri = f"postgresql://postgres:@/{database}?host={folder}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(uri):
                    return uri
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    try:
        yield dsn
    finally:
        run("pg_ctl", "-D", str(data), "-w", "-m", "fast", "stop")
        shutil.rmtree(folder, ignore_errors=True)
