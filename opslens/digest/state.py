"""The snapshot each recipient was last sent, for `opslens digest --skip-unchanged`.

A small JSON file beside the store (`<store>.digest.json`), written whole and renamed into place
so a crash never leaves half a file. Only a digest that was actually delivered is recorded, so a
recipient whose sending failed gets the digest on the next run even with --skip-unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path


def state_path(store: Path) -> Path:
    return store.with_name(store.name + ".digest.json")


def last_sent(store: Path) -> dict[str, dt.date]:
    """E-mail (lower case) -> the as-of date of the last digest delivered to it; empty when none yet."""
    path = state_path(store)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        return {email: dt.date.fromisoformat(day) for email, day in json.loads(text)["last_sent"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not a digest state file ({error}); delete it to start afresh") from None


def record_sent(store: Path, email: str, as_of: dt.date) -> None:
    """Remember that `email` was sent the digest as of `as_of` (never moves a recipient back in time)."""
    sent = last_sent(store)
    key = email.lower()
    sent[key] = max(as_of, sent.get(key, as_of))
    path = state_path(store)
    payload = {"last_sent": {k: v.isoformat() for k, v in sorted(sent.items())}}
    handle, draft = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(payload, file, indent=1)
            file.flush()
            os.fsync(file.fileno())
        os.replace(draft, path)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise
