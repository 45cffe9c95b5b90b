"""``--data-dir``: opening the durable store, reading it back, and closing it."""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..api import kms_state
from ..api.moto_glue import backend_for
from ..service.disk.restore import Restored, restore
from ..service.disk.store import DiskStore
from ..service.persistence import InMemory, set_persistence

__all__ = ["close_data_dir", "open_data_dir"]


def open_data_dir(directory: str | Path) -> tuple[DiskStore, Restored]:
    """Lock ``directory`` (created if missing), read back what it keeps, and keep all state there from now on.

    Raises :class:`~kvsmock.service.disk.database.DataDirError` if it cannot be used.
    """
    store = DiskStore(directory, __version__)
    try:
        store.register_external("kms", kms_state.snapshot, kms_state.restore)
        store.restore_externals()  # the keys first: fragments are sealed under them
        restored = restore(store, backend_for)
    except BaseException:
        store.close()
        raise
    set_persistence(store)
    return store, restored


def close_data_dir(store: DiskStore) -> None:
    """Write what is pending and let the directory go."""
    set_persistence(InMemory())
    store.close()
