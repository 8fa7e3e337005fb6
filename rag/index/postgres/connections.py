"""Connections to the store: one for each write or full build, a small pool per DSN for the rest.

Every connection knows pgvector's type, so numpy arrays go in and out as ``vector`` values.
Pools are kept per DSN for the life of the process: searches come from many worker threads,
and a reload after each change should not wait for a new server process. ``close_pools``
ends them, for tests and for a clean shutdown.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

POOL_SIZE = 4  # enough for the server's worker threads on a small machine; searches are short
_pools: dict[str, ConnectionPool[psycopg.Connection[Any]]] = {}
_pools_lock = threading.Lock()


def connect(dsn: str, autocommit: bool = False) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn, autocommit=autocommit)
    # The extension is created by the first migration: `rag db upgrade` connects before it exists.
    with contextlib.suppress(psycopg.ProgrammingError):
        register_vector(conn)
    if not autocommit:
        conn.commit()  # end the transaction the type lookup opened
    return conn


def _configure(conn: psycopg.Connection[Any]) -> None:
    register_vector(conn)
    conn.autocommit = True


def search_pool(dsn: str) -> ConnectionPool[psycopg.Connection[Any]]:
    with _pools_lock:
        pool = _pools.get(dsn)
        if pool is None:
            pool = ConnectionPool(dsn, min_size=1, max_size=POOL_SIZE, configure=_configure, open=True)
            _pools[dsn] = pool
        return pool


def close_pools() -> None:
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()
