"""Console users, sessions, API tokens, sign-in throttling and the opening limit on a real SQLite hub database."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import Engine, event, select, update

from core.access import ApiTokens, ConsoleUsers, LoginThrottle, OpeningLimit, Principal, Role, Scope, Sessions
from core.access.passwords import HASHER
from core.access.roles import ROLE_SCOPES
from core.access.tokens import VERIFIED_FOR
from core.errors import AuthenticationError, InvalidInputError, LoginThrottledError, RateLimitedError
from core.members.audit import Actor
from core.store.access import ATTEMPTS, SESSIONS, TOKENS, USERS
from core.store.audit import append_audit_event
from core.store.database import create_hub_engine, upgrade_database

PASSWORD = "correct horse battery staple"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_hub_engine(sqlite_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def users(engine: Engine, clock: FakeClock) -> ConsoleUsers:
    return ConsoleUsers(engine, clock=clock)


@pytest.fixture
def sessions(engine: Engine, clock: FakeClock) -> Sessions:
    return Sessions(engine, clock=clock)


@pytest.fixture
def operator_id(users: ConsoleUsers) -> int:
    return users.add("operator", PASSWORD, Role.OPERATOR).id


def decoded_bits(token: str) -> int:
    return 8 * len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


# ── console users ────────────────────────────────────────────────────────────────────────────────


def test_signing_in_with_the_right_password_returns_the_user(users: ConsoleUsers, operator_id: int):
    user = users.authenticate("operator", PASSWORD, "10.0.0.1")
    assert (user.id, user.username, user.role) == (operator_id, "operator", Role.OPERATOR)
    assert user.principal.scopes == ROLE_SCOPES[Role.OPERATOR]


def test_user_names_are_matched_without_regard_to_case_or_surrounding_spaces(users: ConsoleUsers, operator_id: int):
    assert users.authenticate("  Operator ", PASSWORD, "10.0.0.1").id == operator_id


@pytest.mark.parametrize("who", ["wrong password", "unknown user", "disabled user"])
def test_every_reason_not_to_sign_in_gives_the_same_error(users: ConsoleUsers, operator_id: int, who: str):
    if who == "disabled user":
        users.disable("operator")
    name, password = ("nobody", PASSWORD) if who == "unknown user" else ("operator", PASSWORD)
    if who == "wrong password":
        password = "not the password at all"
    with pytest.raises(AuthenticationError) as refused:
        users.authenticate(name, password, "10.0.0.1")
    assert str(refused.value) == "user name or password is wrong"
    assert type(refused.value) is AuthenticationError


@pytest.mark.parametrize("password", ["short pass1", " " * 20, "x" * 129])
def test_passwords_outside_the_policy_are_refused(users: ConsoleUsers, operator_id: int, password: str):
    with pytest.raises(InvalidInputError, match="12 to 128"):
        users.add("someone", password, Role.OPERATOR)
    with pytest.raises(InvalidInputError, match="12 to 128"):
        users.set_password("operator", password)


def test_a_twelve_character_password_is_accepted(users: ConsoleUsers):
    users.add("someone", "abcdefghijkl", Role.OPERATOR)
    assert users.authenticate("someone", "abcdefghijkl", "10.0.0.1").username == "someone"


@pytest.mark.parametrize("name", ["A", "Upper", "with space", "x" * 65, "-dash-first", "名前"])
def test_user_names_are_lower_case_identifiers(users: ConsoleUsers, name: str):
    with pytest.raises(InvalidInputError, match="user name"):
        users.add(name, PASSWORD, Role.OPERATOR)


def test_a_user_name_is_taken_only_once(users: ConsoleUsers, operator_id: int):
    with pytest.raises(InvalidInputError, match="exists already"):
        users.add("operator", PASSWORD, Role.ADMIN)


def test_passwords_are_stored_as_argon2id_with_at_least_46_mib(engine: Engine, operator_id: int):
    with engine.connect() as conn:
        stored = conn.execute(select(USERS.c.password_hash).where(USERS.c.id == operator_id)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    parameters = dict(part.split("=") for part in stored.split("$")[3].split(","))
    assert int(parameters["m"]) >= 46 * 1024
    assert int(parameters["t"]) >= 1 and int(parameters["p"]) >= 1


def test_a_hash_made_with_weaker_parameters_is_replaced_at_the_next_sign_in(
    users: ConsoleUsers, engine: Engine, operator_id: int
):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(update(USERS).where(USERS.c.id == operator_id).values(password_hash=weak))
    users.authenticate("operator", PASSWORD, "10.0.0.1")
    with engine.connect() as conn:
        stored = conn.execute(select(USERS.c.password_hash).where(USERS.c.id == operator_id)).scalar_one()
    assert stored != weak and not HASHER.check_needs_rehash(stored)


def test_a_disabled_user_can_sign_in_again_once_enabled(users: ConsoleUsers, operator_id: int):
    users.disable("operator")
    assert users.get("operator").disabled_at is not None
    users.enable("operator")
    assert users.authenticate("operator", PASSWORD, "10.0.0.1").disabled_at is None


def test_the_console_speaks_only_its_languages(users: ConsoleUsers, operator_id: int):
    users.set_locale(operator_id, "en")
    assert users.get("operator").locale == "en"
    with pytest.raises(InvalidInputError):
        users.set_locale(operator_id, "fr")


# ── sessions ─────────────────────────────────────────────────────────────────────────────────────


def test_a_session_token_has_at_least_128_random_bits_and_is_stored_only_as_a_digest(
    sessions: Sessions, engine: Engine, operator_id: int
):
    tokens = {sessions.start(operator_id) for _ in range(20)}
    assert len(tokens) == 20
    assert all(decoded_bits(token) >= 128 for token in tokens)
    with engine.connect() as conn:
        stored = [bytes(row.token_digest) for row in conn.execute(select(SESSIONS))]
    for token in tokens:
        assert not any(token.encode() in digest for digest in stored)
        assert all(len(digest) == 32 for digest in stored)


def test_a_session_resolves_to_its_user_with_every_scope_of_the_role(sessions: Sessions, operator_id: int):
    principal = sessions.resolve(sessions.start(operator_id))
    assert principal == Principal("operator", Role.OPERATOR, ROLE_SCOPES[Role.OPERATOR], "user", operator_id, "ja")


def test_an_unknown_or_ended_session_resolves_to_nobody(sessions: Sessions, operator_id: int):
    token = sessions.start(operator_id)
    other = sessions.start(operator_id)
    sessions.end(token)
    assert sessions.resolve(token) is None
    assert sessions.resolve("made-up-token") is None
    assert sessions.resolve(other) is not None  # ending one session leaves the others


def test_a_session_ends_after_sitting_idle(sessions: Sessions, clock: FakeClock, operator_id: int):
    token = sessions.start(operator_id)
    clock.advance(minutes=29)
    assert sessions.resolve(token) is not None
    clock.advance(minutes=29)  # 58 minutes old, but used 29 minutes ago
    assert sessions.resolve(token) is not None
    clock.advance(minutes=31)
    assert sessions.resolve(token) is None
    clock.advance(seconds=1)
    assert sessions.resolve(token) is None  # stays ended, the clock does not bring it back


def test_a_busy_session_still_ends_at_its_lifetime(sessions: Sessions, clock: FakeClock, operator_id: int):
    token = sessions.start(operator_id)
    for _ in range(12 * 4 - 1):
        clock.advance(minutes=15)
        assert sessions.resolve(token) is not None
    clock.advance(minutes=15)
    assert sessions.resolve(token) is None


@pytest.mark.parametrize("change", ["disable", "set_password"])
def test_disabling_a_user_or_changing_the_password_ends_every_session(
    users: ConsoleUsers, sessions: Sessions, operator_id: int, change: str
):
    tokens = [sessions.start(operator_id) for _ in range(2)]
    other = sessions.start(users.add("another", PASSWORD, Role.OPERATOR).id)
    if change == "disable":
        users.disable("operator")
        users.enable("operator")  # enabling again does not bring the old sessions back
    else:
        users.set_password("operator", "a brand new passphrase")
    assert [sessions.resolve(token) for token in tokens] == [None, None]
    assert sessions.resolve(other) is not None


# ── API tokens ───────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def tokens(engine: Engine, clock: FakeClock) -> ApiTokens:
    return ApiTokens(engine, clock=clock)


def test_an_api_token_carries_256_random_bits_and_is_stored_only_as_a_digest(tokens: ApiTokens, engine: Engine):
    token = tokens.issue("shop", Role.OPERATOR, ["members:read"], created_by="admin")
    assert token.startswith("mhk_") and decoded_bits(token.removeprefix("mhk_")) >= 256
    with engine.connect() as conn:
        row = conn.execute(select(TOKENS)).one()
    assert token.encode() not in bytes(row.token_digest) and len(row.token_digest) == 32


def test_a_token_acts_with_its_role_and_only_its_scopes(tokens: ApiTokens, clock: FakeClock):
    token = tokens.issue("sync-bot", Role.SUPERVISOR, ["sync:read", "sync:write"], created_by="admin")
    principal = tokens.resolve(token)
    assert principal == Principal("sync-bot", Role.SUPERVISOR, frozenset({Scope.SYNC_READ, Scope.SYNC_WRITE}), "token")
    assert not principal.allows(Role.OPERATOR, Scope.MEMBERS_READ)  # BOLA: the role would allow it, the token not
    assert principal.actor == Actor("token:sync-bot", "supervisor")
    assert tokens.all()[0].last_used_at == clock.now


@pytest.mark.parametrize(
    ("role", "scopes", "message"),
    [
        (Role.OPERATOR, ["sync:read"], "does not allow"),
        (Role.SUPERVISOR, ["admin"], "does not allow"),
        (Role.ADMIN, ["members:everything"], "unknown scope"),
        (Role.ADMIN, [], "at least one scope"),
    ],
)
def test_a_token_cannot_get_scopes_beyond_its_role(tokens: ApiTokens, role: Role, scopes: list[str], message: str):
    with pytest.raises(InvalidInputError, match=message):
        tokens.issue("bot", role, scopes, created_by="admin")


def test_revoked_expired_and_made_up_tokens_resolve_to_nobody(tokens: ApiTokens, clock: FakeClock):
    revoked = tokens.issue("old", Role.OPERATOR, ["members:read"], created_by="admin")
    expiring = tokens.issue(
        "temp", Role.OPERATOR, ["members:read"], created_by="admin", expires_at=clock.now + timedelta(hours=1)
    )
    tokens.revoke("old")
    assert tokens.resolve(revoked) is None
    assert tokens.resolve(expiring) is not None
    clock.advance(hours=1)
    assert tokens.resolve(expiring) is None
    assert tokens.resolve("mhk_" + "A" * 43) is None
    assert tokens.resolve(expiring.removeprefix("mhk_")) is None
    with pytest.raises(InvalidInputError, match="no API token"):
        tokens.revoke("never-issued")


def test_token_names_are_unique(tokens: ApiTokens):
    tokens.issue("shop", Role.OPERATOR, ["members:read"], created_by="admin")
    with pytest.raises(InvalidInputError, match="exists already"):
        tokens.issue("shop", Role.OPERATOR, ["members:read"], created_by="admin")


@contextmanager
def executed_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` within the block."""
    executed: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        executed.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield executed
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_token_verified_moments_ago_is_not_read_again(tokens: ApiTokens, engine: Engine, clock: FakeClock):
    token = tokens.issue("shop", Role.OPERATOR, ["members:read"], created_by="admin")
    principal = tokens.resolve(token)
    clock.advance(seconds=VERIFIED_FOR.total_seconds() - 0.001)
    with executed_statements(engine) as executed:
        assert tokens.resolve(token) == principal
    assert executed == []
    clock.advance(seconds=0.001)
    with executed_statements(engine) as executed:
        assert tokens.resolve(token) == principal
    assert [statement.split()[0] for statement in executed if "api_tokens" in statement] == ["SELECT"]


def test_a_token_revoked_in_this_process_is_refused_at_once(tokens: ApiTokens):
    token = tokens.issue("shop", Role.OPERATOR, ["members:read"], created_by="admin")
    assert tokens.resolve(token) is not None
    tokens.revoke("shop")
    assert tokens.resolve(token) is None


def test_a_token_revoked_elsewhere_works_here_for_at_most_the_verification_period(
    tokens: ApiTokens, engine: Engine, clock: FakeClock
):
    elsewhere = ApiTokens(engine, clock=clock)  # another server process, or `hub tokens revoke`
    token = tokens.issue("shop", Role.OPERATOR, ["members:read"], created_by="admin")
    assert tokens.resolve(token) is not None
    elsewhere.revoke("shop")
    clock.advance(seconds=VERIFIED_FOR.total_seconds() - 0.001)
    assert tokens.resolve(token) is not None  # the documented delay
    clock.advance(seconds=0.001)
    assert tokens.resolve(token) is None


def test_a_token_revoked_while_this_process_was_reading_it_is_not_remembered(tokens: ApiTokens, engine: Engine):
    token = tokens.issue("shop", Role.OPERATOR, ["members:read"], created_by="admin")
    revoked: list[bool] = []

    def revoke_meanwhile(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM api_tokens" in statement and not revoked:
            revoked.append(True)
            tokens.revoke("shop")

    event.listen(engine, "after_cursor_execute", revoke_meanwhile)
    try:
        assert tokens.resolve(token) is not None  # read before the revocation committed
    finally:
        event.remove(engine, "after_cursor_execute", revoke_meanwhile)
    assert revoked and tokens.resolve(token) is None


def test_a_remembered_token_stops_working_when_it_expires(tokens: ApiTokens, clock: FakeClock):
    expires_at = clock.now + timedelta(seconds=2)
    token = tokens.issue("temp", Role.OPERATOR, ["members:read"], created_by="admin", expires_at=expires_at)
    assert tokens.resolve(token) is not None
    clock.advance(seconds=2)
    assert tokens.recently_verified(token) is None and tokens.resolve(token) is None


def test_a_tokens_last_use_is_written_at_most_once_a_minute(tokens: ApiTokens, clock: FakeClock):
    token = tokens.issue("shop", Role.OPERATOR, ["members:read"], created_by="admin")
    first_use = clock.now
    for _ in range(12):  # a request every 5 s, each one reading the token again
        tokens.resolve(token)
        clock.advance(seconds=5)
    clock.advance(seconds=1)
    assert tokens.all()[0].last_used_at == first_use
    tokens.resolve(token)
    assert tokens.all()[0].last_used_at == clock.now


# ── sign-in throttling ───────────────────────────────────────────────────────────────────────────


def fail(engine: Engine, throttle: LoginThrottle, username: str, client: str, now: datetime) -> None:
    with engine.begin() as conn:
        throttle.check(conn, username, client, now)
        throttle.failed(conn, username, client, now)


def check(engine: Engine, throttle: LoginThrottle, username: str, client: str, now: datetime) -> None:
    with engine.begin() as conn:
        throttle.check(conn, username, client, now)


def test_a_user_name_is_throttled_after_its_failures_from_any_client(engine: Engine, clock: FakeClock):
    throttle = LoginThrottle(per_user=3, per_client=100, window=timedelta(minutes=15))
    for attempt in range(3):
        fail(engine, throttle, "operator", f"10.0.0.{attempt}", clock.now)
        clock.advance(minutes=1)
    with pytest.raises(LoginThrottledError) as throttled:
        check(engine, throttle, "Operator", "10.9.9.9", clock.now)
    assert throttled.value.retry_after == 12 * 60 + 1  # until the first failure leaves the window
    check(engine, throttle, "someone-else", "10.9.9.9", clock.now)
    clock.advance(minutes=12, seconds=1)
    check(engine, throttle, "operator", "10.9.9.9", clock.now)


def test_a_client_is_throttled_after_its_failures_for_any_names(engine: Engine, clock: FakeClock):
    throttle = LoginThrottle(per_user=100, per_client=3)
    for attempt in range(3):
        fail(engine, throttle, f"guess{attempt}", "10.0.0.1", clock.now)
    with pytest.raises(LoginThrottledError):
        check(engine, throttle, "operator", "10.0.0.1", clock.now)
    check(engine, throttle, "operator", "10.0.0.2", clock.now)


def test_retry_after_waits_for_the_limit_that_was_reached(engine: Engine, clock: FakeClock):
    throttle = LoginThrottle(per_user=3, per_client=100, window=timedelta(minutes=15))
    fail(engine, throttle, "someone-else", "10.0.0.1", clock.now)  # an older failure of the same client
    clock.advance(minutes=5)
    for _ in range(3):
        fail(engine, throttle, "operator", "10.0.0.1", clock.now)
    with pytest.raises(LoginThrottledError) as throttled:
        check(engine, throttle, "operator", "10.0.0.1", clock.now)
    # "operator" is free again once its own first failure leaves the window, not the client's older one
    assert throttled.value.retry_after == 15 * 60 + 1
    clock.advance(seconds=throttled.value.retry_after - 2)
    with pytest.raises(LoginThrottledError):
        check(engine, throttle, "operator", "10.0.0.1", clock.now)
    clock.advance(seconds=2)
    check(engine, throttle, "operator", "10.0.0.1", clock.now)


def test_a_success_forgets_the_failures_of_that_name(engine: Engine, clock: FakeClock):
    throttle = LoginThrottle(per_user=3, per_client=100)
    for _ in range(2):
        fail(engine, throttle, "operator", "10.0.0.1", clock.now)
    with engine.begin() as conn:
        throttle.succeeded(conn, "operator", clock.now)
    for _ in range(2):
        fail(engine, throttle, "operator", "10.0.0.1", clock.now)
    check(engine, throttle, "operator", "10.0.0.1", clock.now)


def test_failed_sign_ins_keep_neither_the_typed_name_nor_the_client_address(
    users: ConsoleUsers, engine: Engine, operator_id: int
):
    with pytest.raises(AuthenticationError):
        users.authenticate("my secret password", "oops", "203.0.113.7")
    with engine.connect() as conn:
        row = conn.execute(select(ATTEMPTS)).one()
    stored = bytes(row.username_digest) + bytes(row.client_digest)
    assert b"secret" not in stored and b"203.0.113.7" not in stored


def test_console_users_are_throttled_even_with_the_right_password(engine: Engine, clock: FakeClock, operator_id: int):
    users = ConsoleUsers(engine, throttle=LoginThrottle(per_user=2, per_client=100), clock=clock)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            users.authenticate("operator", "not the password", "10.0.0.1")
    with pytest.raises(LoginThrottledError):
        users.authenticate("operator", PASSWORD, "10.0.0.1")
    clock.advance(minutes=16)
    assert users.authenticate("operator", PASSWORD, "10.0.0.1").id == operator_id


# ── member opening limit ─────────────────────────────────────────────────────────────────────────


def audit(engine: Engine, actor: str, action: str, when: datetime) -> None:
    with engine.begin() as conn:
        append_audit_event(conn, occurred_at=when, actor=actor, role="operator", action=action, member_id=uuid4())


def test_the_opening_past_the_hourly_limit_is_refused_until_the_oldest_leaves_the_hour(
    engine: Engine, clock: FakeClock
):
    limit = OpeningLimit(engine, 3, clock=clock)
    operator = Principal("operator", Role.OPERATOR, ROLE_SCOPES[Role.OPERATOR])
    for minutes in (0, 10, 20):
        audit(engine, "operator", "open", clock.now + timedelta(minutes=minutes))
    clock.advance(minutes=30)
    with pytest.raises(RateLimitedError) as limited:
        limit.check(operator)
    assert limited.value.retry_after == 30 * 60 + 1
    clock.advance(minutes=30, seconds=1)
    limit.check(operator)


def test_the_opening_limit_counts_only_this_principals_openings(engine: Engine, clock: FakeClock):
    limit = OpeningLimit(engine, 2, clock=clock)
    for actor, action in [("operator", "search"), ("operator", "search"), ("other", "open"), ("other", "open")]:
        audit(engine, actor, action, clock.now)
    audit(engine, "operator", "open", clock.now - timedelta(hours=1, seconds=1))  # outside the hour
    limit.check(Principal("operator", Role.OPERATOR, ROLE_SCOPES[Role.OPERATOR]))
    token = Principal("operator", Role.OPERATOR, ROLE_SCOPES[Role.OPERATOR], "token")
    limit.check(token)  # a token named like a user is another actor ("token:operator")
