"""How the review app opens its database (``run_app``): read-only when asked, or by itself
when the database cannot be written; never a new, empty database."""

from __future__ import annotations

import os

from parkbench.core.db.info import redact_url, sqlite_file
from parkbench.core.errors import ParkbenchError
from parkbench.core.store import Store


def database_writable(url: str) -> bool:
    """False for a SQLite file (or its directory, where the -wal/-shm files go) this
    process cannot write; True otherwise (a server database says so when written)."""
    path = sqlite_file(url)
    if path is None or not path.exists():
        return True
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def open_for_review(url: str | None, *, read_only: bool) -> tuple[Store, bool, str]:
    """``(store, read_only, note)``. ``--read-only`` opens read-only (it works on files and
    directories that cannot be written). Otherwise a database that cannot be written is
    opened read-only *by itself*, and ``note`` says so. A missing database is an error,
    never silently created (``parkbench demo`` and ``enqueue`` create one)."""
    if read_only:
        return Store.open(url, create=False, read_only=True), True, ""
    try:
        store = Store.open(url, create=False)
    except ParkbenchError as error:
        try:
            store = Store.open(url, create=False, read_only=True)
        except ParkbenchError:
            raise error from None
        return store, True, f"opened read-only: {error.message}"
    if not database_writable(str(store.url)):
        where = redact_url(str(store.url))
        store.close()
        store = Store.open(url, create=False, read_only=True)
        return store, True, f"opened read-only: {where} cannot be written by this user"
    return store, False, ""
