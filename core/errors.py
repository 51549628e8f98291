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
    ├── KeyInUseError          a key version cannot be retired while rows still use it
    ├── SyncError              talking to an external system failed
    │   ├── RetryableError     transient (timeout, 429, 5xx): retried with backoff
    │   ├── PermanentError     4xx validation or auth: never retried
    │   ├── CircuitOpenError   the breaker is open: calls short-circuited
    │   ├── DeadlineExceededError  a run was cut at its deadline
    │   └── StreamBusyError    the same stream is already running elsewhere
    ├── WebhookRejected        forged, stale or malformed webhook delivery
    ├── AuthenticationError    sign-in or token refused (the reason is never told apart)
    │   └── LoginThrottledError  too many failed sign-ins: wait ``retry_after`` seconds
    ├── PermissionDeniedError  the role or the token's scopes do not allow this
    └── RateLimitedError       too many member openings in the last hour
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


class SyncError(MemberHubError):
    """Base of errors raised while talking to an external system."""


class RetryableError(SyncError):
    """A transient failure (timeout, 429, 5xx): retried with backoff, honouring ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class StillRunningError(RetryableError):
    """The system is still preparing an export this run waited for; the next run goes on waiting.

    Not a failure of the system: the engine does not count it against the circuit breaker.
    """


class PermanentError(SyncError):
    """A failure that retrying cannot fix (4xx validation, auth): reported, never retried."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotSliceableError(PermanentError):
    """The connector cannot split a stream's backfill into slices; it is backfilled whole instead."""


class CircuitOpenError(SyncError):
    """The connector's circuit breaker is open; calls are short-circuited until the next probe."""


class DeadlineExceededError(SyncError):
    """A connector run was cut at its deadline."""


class WebhookRejected(MemberHubError):
    """A webhook delivery failed authentication or was malformed; nothing was stored."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class StreamBusyError(SyncError):
    """Another worker is running the same stream right now; this run was not started."""


class AuthenticationError(MemberHubError):
    """A sign-in, session or token was refused; the message never says which part was wrong."""

    exit_code = 5


class LoginThrottledError(AuthenticationError):
    """Too many failed sign-ins for this user name or client; ``retry_after`` seconds until the next try."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDeniedError(MemberHubError):
    """The signed-in user's role, or the API token's scopes, do not allow this action."""

    exit_code = 5


class RateLimitedError(MemberHubError):
    """An operator opened more members in the last hour than the console allows; ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
