"""What a build was made from (``Fingerprint``), what it holds (``Manifest``), and why a build
does not match what the running service expects (``difference``)."""

from __future__ import annotations

from typing import Any

import msgspec

FORMAT_VERSION = 2  # 2: BM25 and term sets saved with the build


class Fingerprint(msgspec.Struct, frozen=True):
    """Everything an index depends on: if any of it differs, the index is stale."""

    format_version: int
    model: str
    dim: int
    chunking: dict[str, Any]
    index: dict[str, Any]
    documents: dict[str, str]  # doc_id -> sha256 of text


class Manifest(msgspec.Struct, frozen=True):
    fingerprint: Fingerprint
    version: str
    created_at: float
    index_kind: str
    chunks: int
    sentences: int
    files: dict[str, str]  # file path (relative to the build) -> sha256 of its bytes


def difference(found: Fingerprint, expected: Fingerprint) -> str:
    """Why a build does not match, in words: which setting, model or documents changed."""
    reasons: list[str] = []
    for name in found.__struct_fields__:
        old, new = getattr(found, name), getattr(expected, name)
        if old == new:
            continue
        if name == "documents":
            added = sorted(set(new) - set(old))
            removed = sorted(set(old) - set(new))
            changed = sorted(d for d in set(old) & set(new) if old[d] != new[d])
            parts = [
                f"{label} {_names(ids)}"
                for label, ids in (("added", added), ("removed", removed), ("changed", changed))
                if ids
            ]
            reasons.append("documents changed (" + "; ".join(parts) + ")")
        elif isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            reasons.append(
                f"{name} settings changed (" + ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys) + ")"
            )
        else:
            reasons.append(f"{name} changed ({old!r} -> {new!r})")
    return "; ".join(reasons)


def _names(ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
