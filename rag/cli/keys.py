"""The API key kept next to the index: ``rag key new`` or ``rag serve --generate-key``.

Writes (``POST /documents``, ``/admin/...``) need an API key and are refused (403) while
none is configured. Rather than make a new user invent one and restart with
``RAG_SECURITY__API_KEY``, these commands draw a random key (``secrets``, 256 bits), store it
in ``<index folder>/api-key`` with mode 0600 and print it once, as Jupyter does with its
token. ``rag serve`` uses the stored key whenever ``security.api_key`` is not set; a key
that is set (file or environment) always wins.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import click
import msgspec
from rich.text import Text

from rag.cli.console import console
from rag.config import Settings

KEY_FILE = "api-key"


class KeyFileError(RuntimeError):
    pass


def key_path(settings: Settings) -> Path:
    return Path(settings.paths.index) / KEY_FILE


def new_key(path: Path) -> str:
    """A fresh random key, written to ``path`` (mode 0600, replacing any older key)."""
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.write(descriptor, (key + "\n").encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temp, path)
    return key


def stored_key(path: Path) -> str | None:
    """The key in ``path``, or None when there is none; refuses a file others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} can be read by other users (mode {stat.filemode(mode)}); run: chmod 600 {path}")
    key = path.read_text(encoding="ascii").strip()
    return key or None


def with_api_key(settings: Settings, generate: bool) -> Settings:
    """``settings`` with the key stored next to the index when none is configured (a new one if asked).

    The key also goes into ``RAG_SECURITY__API_KEY`` for this process, so that server workers,
    which read their settings afresh, use it too."""
    path = key_path(settings)
    if settings.security.api_key:
        if generate:
            raise click.ClickException("--generate-key: an API key is already configured (security.api_key)")
        return settings
    try:
        key = new_key(path) if generate else stored_key(path)
    except (KeyFileError, OSError) as error:
        raise click.ClickException(str(error)) from error
    if key is None:
        console.print("[dim]writes (POST /documents) are off: no API key; `rag serve --generate-key` makes one[/]")
        return settings
    if generate:
        print_new_key(key, path)
    else:
        console.print(f"[dim]writes need the API key stored in {path}[/]", highlight=False)
    os.environ["RAG_SECURITY__API_KEY"] = key
    return msgspec.structs.replace(settings, security=msgspec.structs.replace(settings.security, api_key=key))


def print_new_key(key: str, path: Path) -> None:
    console.print(f"a new API key (stored in {path}, mode 0600; shown only now):", highlight=False, soft_wrap=True)
    console.print(Text(key, style="bold"), soft_wrap=True)
    console.print("send it as X-API-Key (or Authorization: Bearer) with writes", highlight=False, soft_wrap=True)
