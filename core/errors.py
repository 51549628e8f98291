"""The error hierarchy of MemberHub.

Every message is one line that is safe to show and to log: it never contains personal data.

    MemberHubError
    ├── ConfigError            broken configuration; names the file, key and reason
    │   └── KeyFileError       key file missing, unreadable, unsafe permissions or location
    ├── WrongKeyError          the key ring does not match this database
    ├── DecryptionError        a ciphertext failed authentication (tampered, swapped or shredded)
    ├── InvalidInputError      a value failed validation (phone, email, birthday …)
    ├── NotInitialisedError    the hub has no database yet (run ``hub init``)
    ├── MemberNotFoundError    no member with that id or number
    ├── MemberErasedError      the member was erased; their personal data is gone for good
    └── KeyInUseError          a key version cannot be retired while rows still use it
"""

from __future__ import annotations


class MemberHubError(Exception):
    """Base class; ``str(error)`` is a one-line, PII-free message for operators."""

    exit_code = 1


class ConfigError(MemberHubError):
    """Configuration is missing or invalid."""

    exit_code = 2


class KeyFileError(ConfigError):
    """The key file is missing, unreadable, world-readable or stored in an unsafe place."""


class WrongKeyError(MemberHubError):
    """The key ring does not belong to this database."""

    exit_code = 3


class DecryptionError(MemberHubError):
    """A ciphertext could not be authenticated: it was tampered with, moved, or its key is gone."""

    exit_code = 3


class InvalidInputError(MemberHubError):
    """A value supplied by a user or a connector is invalid."""

    exit_code = 2


class NotInitialisedError(MemberHubError):
    """The hub database does not exist or has no schema yet."""

    exit_code = 2


class MemberNotFoundError(MemberHubError):
    """No member matches the given id or member number."""

    exit_code = 4


class MemberErasedError(MemberHubError):
    """The member has been erased; their personal data can no longer be read."""

    exit_code = 4


class KeyInUseError(MemberHubError):
    """A key version is still used by stored rows and cannot be retired."""

    exit_code = 3
