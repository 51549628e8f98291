"""Where the key ring lives: a protected local file, or an environment variable set by the platform.

The key must stay apart from the database: an encrypted database leaked together with its key is not
protected at all (APPI's safe harbour for encrypted data requires the two to be kept separate).
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from core.crypto.keyring import KeyRing
from core.errors import ConfigError, KeyFileError

_FILE_MODE = 0o600
_DIR_MODE = 0o700
_SHARED_BITS = 0o077


@runtime_checkable
class KeyProvider(Protocol):
    """Loads and stores the key ring; ``description`` says where it lives and never contains a secret."""

    description: str

    def load(self) -> KeyRing:
        """The current key ring."""
        ...

    def save(self, ring: KeyRing) -> None:
        """Replace the stored key ring (after a rotation)."""
        ...


class KeyFileProvider:
    """A JSON key file with mode 0600, outside the data directory."""

    def __init__(self, path: Path, *, data_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.description = f"key file {self.path}"

    def create(self, ring: KeyRing) -> None:
        """Write a new key file (mode 0600, parent directory 0700); an existing file is never overwritten."""
        self._refuse_data_dir()
        self._make_parent()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        except FileExistsError:
            raise KeyFileError(f"Key file {self.path} already exists; refusing to overwrite it") from None
        try:
            _write_and_sync(fd, ring.to_json())
        except BaseException:
            self.path.unlink(missing_ok=True)  # a half-written key file would block the next attempt
            raise
        _sync_directory(self.path.parent)

    def load(self) -> KeyRing:
        """Read the key ring, refusing a missing, shared or misplaced key file."""
        self._refuse_data_dir()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise KeyFileError(f"Key file not found: {self.path} — run `hub init` or set HUB_KEY_FILE") from None
        except OSError as error:
            raise KeyFileError(f"Key file {self.path} cannot be read: {error.strerror}") from None
        try:
            # Checked on the open descriptor, so the file cannot be swapped between check and read.
            self._refuse_unsafe(os.fstat(fd).st_mode)
        except KeyFileError:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as file:
            data = file.read()
        return KeyRing.from_json(data, origin=str(self.path))

    def save(self, ring: KeyRing) -> None:
        """Atomically replace the key file: a 0600 temporary file in the same directory, fsync, rename."""
        self._refuse_data_dir()
        self._make_parent()
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            _write_and_sync(fd, ring.to_json())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_directory(self.path.parent)

    def _refuse_data_dir(self) -> None:
        if self.data_dir is None:
            return
        data_dir = self.data_dir.resolve()
        if self.path.resolve().is_relative_to(data_dir):
            raise KeyFileError(
                f"Key file {self.path} lies inside the data directory {data_dir}; keep keys apart from the database"
            )

    def _refuse_unsafe(self, mode: int) -> None:
        if not stat.S_ISREG(mode):
            raise KeyFileError(f"Key file {self.path} is not a regular file")
        if mode & _SHARED_BITS:
            permissions = stat.S_IMODE(mode)
            raise KeyFileError(
                f"Key file {self.path} is readable by other users (mode {permissions:04o}); run: chmod 600 {self.path}"
            )

    def _make_parent(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(mode=_DIR_MODE, parents=True)
            parent.chmod(_DIR_MODE)  # mkdir's mode is narrowed by the umask; make it exact


class EnvKeyProvider:
    """A read-only key ring from an environment variable holding base64 of ``KeyRing.to_json()``."""

    def __init__(self, variable: str = "HUB_KEYRING") -> None:
        self.variable = variable
        self.description = f"environment variable {variable}"

    def load(self) -> KeyRing:
        """Decode the key ring from the variable."""
        encoded = os.environ.get(self.variable, "").strip()
        if not encoded:
            raise KeyFileError(f"Environment variable {self.variable} is not set or empty")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(f"Environment variable {self.variable} is not valid base64") from None
        return KeyRing.from_json(data, origin=self.description)

    def save(self, ring: KeyRing) -> None:
        """Refuse: the process cannot change its environment for the platform that set it."""
        raise ConfigError(f"keys from {self.variable} are read-only; update the variable instead")


def _write_and_sync(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), _FILE_MODE)  # exact 0600, whatever the umask left
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _sync_directory(directory: Path) -> None:
    # Makes the new directory entry itself durable, not only the file's content.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
