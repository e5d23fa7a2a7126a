"""Private files: the data folder 0700, the files in it 0600, and a check that says when not.

The data folder holds the embedded database: quarantined mail, reply tokens, CRM records.
Under the usual umask (022) a folder is made 0755 and a file 0644, readable by every
local user. :func:`private_folder` and :func:`private_file` create them for the owner
alone whatever the umask; :func:`permission_warnings` lists what is wider than that, for
``check-config`` (and ``status``) to print. Existing folders and files are never
changed behind the operator's back: they are reported, with the command that fixes them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

if TYPE_CHECKING:
    from invitegw.gateway.config import Settings

__all__ = ["permission_warnings", "private_file", "private_folder"]

_FOLDER_MODE = 0o700
_FILE_MODE = 0o600
# SQLite's companions of a database file (same permissions as the file: SQLite copies them).
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_folder(path: Path) -> None:
    """Create ``path`` (and missing parents) with the last folder readable by its owner only.

    Parameters:
        path: the folder; an existing one is left as it is.

    Raises:
        OSError: it cannot be created.
    """
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=_FOLDER_MODE)
    except FileExistsError:
        return
    os.chmod(path, _FOLDER_MODE)  # mkdir's mode is masked by the umask; this is not


def private_file(path: Path) -> None:
    """Create ``path`` empty, readable and writable by its owner only, if it is missing.

    Parameters:
        path: the file (its folder must exist); an existing file is left as it is.

    Raises:
        OSError: it cannot be created.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(descriptor, _FILE_MODE)
    finally:
        os.close(descriptor)


def permission_warnings(settings: Settings) -> list[str]:
    """What in the data folder others may read, each with the command that fixes it.

    Parameters:
        settings: the configuration (``data_dir``; the database file when it is SQLite).

    Returns:
        One line per folder or file wider than 0700 / 0600 (none: an empty list).
    """
    warnings: list[str] = []
    folder = settings.data_dir
    _check(folder, _FOLDER_MODE, "the data folder", warnings)
    database = _sqlite_path(settings.database_url)
    if database is not None:
        for suffix in _SQLITE_SUFFIXES:
            _check(Path(f"{database}{suffix}"), _FILE_MODE, "the database file", warnings)
    return warnings


def _check(path: Path, wanted: int, what: str, warnings: list[str]) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # not made yet: it will be made private
    if mode & ~wanted & 0o777:
        warnings.append(
            f"{what} {path} is {mode:04o}, readable by others (it holds quarantined mail, "
            f"reply tokens and CRM data): chmod {wanted:o} {path}"
        )


def _sqlite_path(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite") or parsed.database in {None, "", ":memory:"}:
        return None
    return Path(str(parsed.database))
