"""Logs never carry a member's personal data, whichever way a value travels to the renderer."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import threading
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy
import structlog
import tenacity

from core.errors import ConfigError
from core.logs import ALLOWED_KEYS, PII_KEY_WORDS, configure_logging, get_logger, redact_event

CANARY_EMAIL = "taro.yamada@example.jp"
CANARY_PHONES = ("090-1234-5678", "０９０１２３４５６７８", "+819012345678")
CANARY_NAME = "山田太郎"
CANARY_KANA = "ヤマダタロウ"
CANARY_ADDRESS = "東京都千代田区千代田1-1"
CANARY_POSTCODE = "100-0001"
CANARIES = (CANARY_EMAIL, *CANARY_PHONES, CANARY_NAME, CANARY_KANA, CANARY_ADDRESS, CANARY_POSTCODE)
FRAGMENTS = ("taro.yamada", "山田", "太郎", "ヤマダ", "ﾔﾏﾀﾞ", "千代田", "1000001", "09012345678")
MEMBER_ID = "0192f4e8-3c1a-7d2b-9e4f-5a6b7c8d9e0f"
ROUTED_LOGGERS = (
    "httpx",
    "httpcore",
    "sqlalchemy",
    "tenacity",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "alembic",
)

log = get_logger("tests.core.test_logs")


def assert_no_canary(output: str, *extra: str) -> None:
    """No canary in raw, NFKC, E.164, percent-encoded or JSON-escaped form, nor with separators removed."""
    folded = unicodedata.normalize("NFKC", output)
    for canary in (*CANARIES, *FRAGMENTS, *extra):
        forms = {canary, unicodedata.normalize("NFKC", canary), quote(canary), json.dumps(canary)[1:-1]}
        for form in forms:
            assert form not in output and form not in folded, f"{form!r} leaked into:\n{output}"
    assert "9012345678" not in re.sub(r"[\s\-()+]", "", folded), output


def capture(json_mode: bool, level: str = "INFO") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(json=json_mode, level=level, stream=stream)
    return stream


def _find_member_by_email() -> None:
    secret_local_marker = {"email": CANARY_EMAIL, "name": CANARY_NAME}  # noqa: F841 - the frame local under test
    raise LookupError(f"no member for {CANARY_EMAIL} / {CANARY_PHONES[0]} / {CANARY_NAME}")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    names = (*ROUTED_LOGGERS, "sqlalchemy.engine.Engine")
    loggers = [logging.getLogger(), *map(logging.getLogger, names)]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter):
            root.removeHandler(handler)
    for lg, handlers, level, propagate in saved:
        if lg is not root:
            lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


@pytest.fixture(params=[True, False], ids=["json", "console"])
def json_mode(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_pii_keys_are_redacted_whole(json_mode: bool) -> None:
    stream = capture(json_mode)
    log.info(
        "member.updated",
        member_id=MEMBER_ID,
        email=CANARY_EMAIL,
        phone=CANARY_PHONES[1],
        mobile_phone=CANARY_PHONES[2],
        family_name=CANARY_NAME,
        name_kana=CANARY_KANA,
        address={"line1": CANARY_ADDRESS, "postcode": CANARY_POSTCODE},
        payload=[CANARY_EMAIL, CANARY_PHONES[0]],
    )
    output = stream.getvalue()
    assert_no_canary(output)
    assert "[redacted]" in output and MEMBER_ID in output


def test_unknown_keys_are_denied_by_default(json_mode: bool) -> None:
    stream = capture(json_mode)
    log.info("member.imported", favourite_shop=CANARY_ADDRESS, memo=CANARY_KANA, shoe_size=4242424)
    output = stream.getvalue()
    assert_no_canary(output, "4242424")
    assert "favourite_shop" in output and "[redacted]" in output


def test_containers_are_walked_by_the_same_rules(json_mode: bool) -> None:
    stream = capture(json_mode)
    log.info(
        "batch.done",
        records=[
            {"member_id": MEMBER_ID, "email": CANARY_EMAIL, "count": 3},
            (CANARY_PHONES[0], CANARY_NAME),
        ],
        detail={"connector": "shopify", "tel": CANARY_PHONES[1], "home": {"zip": CANARY_POSTCODE}},
        index={CANARY_EMAIL: 1, CANARY_NAME: 2},
    )
    output = stream.getvalue()
    assert_no_canary(output)
    assert MEMBER_ID in output and "shopify" in output


def test_canaries_inside_the_event_message_are_replaced(json_mode: bool) -> None:
    stream = capture(json_mode)
    log.warning(
        f"lookup {CANARY_EMAIL} {' '.join(CANARY_PHONES)} {CANARY_NAME} {CANARY_KANA} "
        f"〒{CANARY_POSTCODE} {CANARY_ADDRESS} {CANARY_POSTCODE}"
    )
    output = stream.getvalue()
    assert_no_canary(output)
    assert all(marker in output for marker in ("[email]", "[phone]", "[text]", "[postcode]"))


def test_exception_text_is_scanned_and_frame_locals_are_never_shown(json_mode: bool) -> None:
    stream = capture(json_mode)
    try:
        try:
            _find_member_by_email()
        except LookupError as error:
            raise RuntimeError(f"sync failed for {CANARY_KANA}") from error
    except RuntimeError:
        log.exception("member.lookup_failed", member_id=MEMBER_ID)
    output = stream.getvalue()
    assert_no_canary(output)
    assert "secret_local_marker" not in output
    assert "LookupError" in output and "RuntimeError" in output and "[email]" in output


def test_tenacity_retry_logs_with_traceback_leak_nothing(json_mode: bool) -> None:
    stream = capture(json_mode)
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(2),
        sleep=lambda _seconds: None,
        before_sleep=tenacity.before_sleep_log(logging.getLogger("tenacity"), logging.WARNING, exc_info=True),
        reraise=True,
    )
    with pytest.raises(LookupError):
        retrying(_find_member_by_email)
    output = stream.getvalue()
    assert_no_canary(output)
    assert "Retrying" in output and "LookupError" in output and "secret_local_marker" not in output


def test_httpx_warning_keeps_the_path_but_not_the_query_string(json_mode: bool) -> None:
    stream = capture(json_mode)
    url = f"https://shop.example/admin/customers/search.json?query=email:{CANARY_EMAIL}&tel={CANARY_PHONES[2]}"
    logging.getLogger("httpx").warning("HTTP Request: %s %s", "GET", url)
    output = stream.getvalue()
    assert_no_canary(output)
    assert "https://shop.example/admin/customers/search.json?[redacted]" in output and "httpx" in output


def test_sqlalchemy_parameters_passed_as_objects_are_redacted(json_mode: bool) -> None:
    stream = capture(json_mode, level="DEBUG")
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    engine_log.info("[generated in 0.00012s] %r", (CANARY_NAME, CANARY_EMAIL, "1990-04-01", "Taro Yamada"))
    engine_log.info("INSERT INTO member VALUES (%s)", f"'{CANARY_NAME}', '{CANARY_PHONES[1]}'")
    output = stream.getvalue()
    assert_no_canary(output, "1990-04-01", "Taro Yamada")
    assert "[generated in 0.00012s]" in output and "INSERT INTO member" in output


def test_sqlalchemy_echo_at_debug_leaks_nothing(json_mode: bool, capsys: pytest.CaptureFixture[str]) -> None:
    stream = capture(json_mode, level="DEBUG")
    engine = sqlalchemy.create_engine("sqlite://", echo="debug")
    row = {"name": CANARY_NAME, "email": CANARY_EMAIL, "birthday": "1990-04-01", "romaji": "Taro Yamada"}
    insert = sqlalchemy.text("INSERT INTO member VALUES (:name, :email, :birthday, :romaji)")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE member (name TEXT, email TEXT UNIQUE, birthday TEXT, romaji TEXT)")
        conn.execute(insert, row)
        conn.execute(sqlalchemy.text("SELECT * FROM member")).all()
        try:
            conn.execute(insert, row)
        except sqlalchemy.exc.IntegrityError:
            log.exception("store.insert_failed")
    engine.dispose()
    output = stream.getvalue()
    assert_no_canary(output, "1990-04-01", "Taro Yamada")
    assert "INSERT INTO member" in output and "IntegrityError" in output and "[parameters: [redacted]]" in output
    assert capsys.readouterr().out == ""  # SQLAlchemy's own echo handler was never installed


def test_real_httpx_request_over_mock_transport_leaks_nothing(json_mode: bool) -> None:
    stream = capture(json_mode, level="DEBUG")

    def shop(request: httpx.Request) -> httpx.Response:
        status = 404 if request.url.path == "/missing" else 200
        return httpx.Response(status, json={"name": CANARY_NAME, "email": CANARY_EMAIL})

    params = {"email": CANARY_EMAIL, "phone": CANARY_PHONES[2], "name": CANARY_NAME}
    with httpx.Client(transport=httpx.MockTransport(shop), base_url="https://shop.example") as client:
        client.get("/members", params=params)
        try:
            client.get("/missing", params=params).raise_for_status()
        except httpx.HTTPStatusError:
            log.exception("shop.lookup_failed", status_code=404)
    output = stream.getvalue()
    assert_no_canary(output)
    assert "HTTP Request: GET https://shop.example/members?[redacted]" in output and "HTTPStatusError" in output


@pytest.fixture
def loopback_server() -> Iterator[str]:
    """A real uvicorn server on a free loopback port whose responses carry PII in headers and body."""
    uvicorn = pytest.importorskip("uvicorn")

    async def app(scope: object, receive: object, send: Callable[[dict[str, object]], Awaitable[None]]) -> None:
        headers = [(b"x-member-email", CANARY_EMAIL.encode()), (b"x-member-phone", CANARY_PHONES[2].encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps({"name": CANARY_NAME}).encode()})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", log_level="debug"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)  # readiness poll, not a timing assumption
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_uvicorn_httpx_and_httpcore_over_loopback_leak_nothing(json_mode: bool, loopback_server: str) -> None:
    stream = capture(json_mode, level="DEBUG")
    query = f"email={quote(CANARY_EMAIL)}&phone={quote(CANARY_PHONES[2])}&name={quote(CANARY_NAME)}"
    with httpx.Client(trust_env=False) as client:
        response = client.get(f"{loopback_server}/members?{query}")
    assert response.headers["x-member-email"] == CANARY_EMAIL
    output = stream.getvalue()
    assert_no_canary(output)
    assert "uvicorn.access" in output and "httpcore" in output and "/members?[redacted]" in output


def test_log_injection_stays_on_one_line(json_mode: bool) -> None:
    stream = capture(json_mode)
    log.info('login\n{"level":"critical","event":"forged"}', connector="shop\r\nify", status="a\u2028b\x85c\x1b[2J")
    logging.getLogger("uvicorn.error").warning("bad header %s", 'x\r\n{"level":"critical"}')
    log.info("second")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert all("\x1b" not in line for line in lines)
    if json_mode:
        assert [json.loads(line)["level"] for line in lines] == ["info", "warning", "info"]


def test_allowlisted_fields_keep_their_values() -> None:
    stream = capture(json_mode=True)
    fields = {
        "member_id": MEMBER_ID,
        "connector": "shopify",
        "stream": "customers",
        "count": 1200,
        "duration_ms": 12.5,
        "status_code": 429,
        "attempt": 2,
        "kek_version": 3,
        "request_id": "req-7f3a",
    }
    log.info("sync.finished", **fields)
    event = json.loads(stream.getvalue())
    assert {key: event[key] for key in fields} == fields
    assert event["event"] == "sync.finished" and event["level"] == "info" and event["timestamp"].endswith("Z")


def test_bound_context_passes_the_same_redaction(json_mode: bool) -> None:
    stream = capture(json_mode)
    structlog.contextvars.bind_contextvars(request_id="req-7f3a", customer_email=CANARY_EMAIL)
    log.bind(member_id=MEMBER_ID, name=CANARY_NAME).info("member.opened")
    output = stream.getvalue()
    assert_no_canary(output)
    assert "req-7f3a" in output and MEMBER_ID in output


@pytest.mark.parametrize(
    "phone",
    ["03-1234-5678", "(03) 1234-5678", "+81 90-1234-5678", "+81(0)90-1234-5678", "090ー1234ー5678",
     "０９０－１２３４－５６７８", "0120-123-456", "09012345678"],
)  # fmt: skip
def test_phone_numbers_in_every_common_format_are_replaced(phone: str) -> None:
    event = redact_event(None, "info", {"event": f"call {phone} now"})
    assert event["event"] == "call [phone] now"


@pytest.mark.parametrize("postcode", ["〒100-0001", "〒1000001", "100-0001", "１００－０００１", "100ー0001"])
def test_postcodes_are_replaced(postcode: str) -> None:
    assert redact_event(None, "info", {"event": f"ship to {postcode}."})["event"] == "ship to [postcode]."


def test_identifiers_times_and_numbers_survive_the_scan() -> None:
    message = f"member {MEMBER_ID} at 2026-01-02T03:04:05.012345Z took 0.0123 s, 1200 rows, v2.0.30, 99%"
    assert redact_event(None, "info", {"event": message})["event"] == message


def test_structured_exception_keeps_its_shape_but_loses_frame_locals() -> None:
    frame = {"filename": "core/x.py", "lineno": 3, "name": "f"}
    exception = [
        {"exc_type": "LookupError", "exc_value": f"no member {CANARY_EMAIL}",
         "frames": [{**frame, "locals": {"who": CANARY_NAME}}]},
    ]  # fmt: skip
    event = redact_event(None, "error", {"event": "failed", "exception": exception})
    assert event["exception"] == [{"exc_type": "LookupError", "exc_value": "no member [email]", "frames": [frame]}]


def test_configuring_again_replaces_the_previous_setup() -> None:
    first = capture(json_mode=True)
    second = capture(json_mode=False, level="WARNING")
    log.info("not.shown")
    log.warning("shown")
    logging.getLogger("alembic").warning("migration.done")
    assert first.getvalue() == ""
    assert "not.shown" not in second.getvalue()
    assert "shown" in second.getvalue() and "migration.done" in second.getvalue()
    formatters = [handler.formatter for handler in logging.getLogger().handlers]
    assert sum(isinstance(f, structlog.stdlib.ProcessorFormatter) for f in formatters) == 1


def test_library_loggers_lose_their_own_handlers_and_propagate() -> None:
    access = logging.getLogger("uvicorn.access")
    access.addHandler(logging.StreamHandler(io.StringIO()))
    access.propagate = False
    capture(json_mode=True)
    for name in ROUTED_LOGGERS:
        assert logging.getLogger(name).handlers == [] and logging.getLogger(name).propagate, name
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    capture(json_mode=True, level="debug")
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.DEBUG


def test_an_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="VERBOSE"):
        configure_logging(level="VERBOSE")


def test_no_allowlisted_key_contains_a_pii_word() -> None:
    assert [key for key in ALLOWED_KEYS if any(word in key for word in PII_KEY_WORDS)] == []


def test_get_logger_is_named_after_the_calling_module() -> None:
    stream = capture(json_mode=True)
    get_logger().info("named")
    assert json.loads(stream.getvalue())["logger"] == __name__
