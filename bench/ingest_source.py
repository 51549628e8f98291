"""An in-memory test source for the ingest benchmark: the ``bench`` connector type.

Registered through ``memberhub_connector_types`` like any connector, so the engine runs it in its reader child.
Records are generated there, deterministically from the seed and their position (nothing is read from disk or
the network): stream ``customers`` yields Japanese ``Profile``s, stream ``orders`` ``Purchase``s of two or
three lines naming those customers, about one in five with a refund. Pages hold ``page_size`` records and the
cursor is the offset reached, so a run resumes exactly where the last committed batch ended.

Every 50th customer (from the 1,234th on) is a second account of one read a page or more earlier: same name,
email, phone and birthday, another address. The email is not marked verified, so it alone would only open a
review item; the same phone under the same name is strong evidence, and identity matching merges the second
account into the stored member automatically, as it would a real duplicate.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise

from faker.providers.address.ja_JP import Provider as JapaneseAddresses
from faker.providers.person.ja_JP import Provider as JapaneseNames
from pydantic import BaseModel, ConfigDict, Field

from core.errors import PermanentError
from core.plugins import hookimpl
from core.records import Profile, Purchase, PurchaseAdjustment, PurchaseLine
from core.sync.contract import Batch, CheckResult, ConnectorType, StreamSpec
from core.sync.cursor import StreamCursor

JST = timezone(timedelta(hours=9))
EPOCH = datetime(2026, 4, 1, 9, 0, tzinfo=JST)
REFUND_SHARE = 0.2
SECOND_ACCOUNT_EVERY = 50
SECOND_ACCOUNT_GAP = 1_234  # more than a page back: the first account is already stored
PRODUCTS: tuple[tuple[str, str, int], ...] = (
    ("SKU-1001", "今治タオル フェイスタオル", 1650),
    ("SKU-1002", "南部鉄器 急須 0.6L", 8800),
    ("SKU-1003", "有田焼 マグカップ", 2420),
    ("SKU-1004", "手ぬぐい 注染 桜柄", 990),
    ("SKU-1005", "洗濯洗剤 詰め替え 1.2kg", 328),
    ("SKU-1006", "ハンドクリーム 柚子", 880),
    ("SKU-1007", "靴下 3足組", 1089),
    ("SKU-1008", "折りたたみ傘", 2980),
    ("SKU-1009", "弁当箱 曲げわっぱ", 4950),
    ("SKU-1010", "扇子 京都", 3300),
    ("SKU-1011", "万年筆 インク 青", 770),
    ("SKU-1012", "文庫本カバー 帆布", 1320),
)
STORE_CODES = ("S001", "S002", "S003", "S004", "S005", "S006")
_DOMAINS = ("example.jp", "example.co.jp", "example.ne.jp", "example.com")
_MOBILE_PREFIXES = ("070", "080", "090")
_LAST_NAMES = tuple(JapaneseNames.last_name_pairs)
_FIRST_NAMES = (*JapaneseNames.first_name_female_pairs, *JapaneseNames.first_name_male_pairs)


class BenchSourceConfig(BaseModel):
    """How many customers and orders the source holds, the seed that generates them, and the page size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customers: int = Field(ge=0)
    orders: int = Field(ge=0)
    seed: int = 2026
    page_size: int = Field(1000, ge=1)


# ── records ──────────────────────────────────────────────────────────────────────────────────────────


def customer_id(index: int) -> str:
    """The source's id of customer ``index``."""
    return f"C{index:08d}"


def customer_profile(source: str, index: int, seed: int) -> Profile:
    """Customer ``index`` as the source knows them: kanji and kana name, mobile phone, email, address, birthday."""
    second_account = index % SECOND_ACCOUNT_EVERY == SECOND_ACCOUNT_EVERY - 1 and index >= SECOND_ACCOUNT_GAP
    person = index - SECOND_ACCOUNT_GAP if second_account else index
    rng = _rng(seed, "person", person)
    last, last_kana, last_roman = rng.choice(_LAST_NAMES)
    first, first_kana, first_roman = rng.choice(_FIRST_NAMES)
    domain = rng.choice(_DOMAINS)
    birthday = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 66))
    home = _rng(seed, "customer", index)
    return Profile(
        source=source,
        external_id=customer_id(index),
        source_updated_at=EPOCH + timedelta(seconds=index),
        name=f"{last} {first}",
        kana=f"{last_kana} {first_kana}",
        email=f"{first_roman.lower()}.{last_roman.lower()}.{person}@{domain}",
        phone=_mobile_number(seed, person),
        postal_code=f"{home.randrange(1000000):07d}",
        address=f"{home.choice(JapaneseAddresses.prefectures)}{home.choice(JapaneseAddresses.cities)}"
        f"{home.choice(JapaneseAddresses.towns)}{home.randrange(1, 10)}-{home.randrange(1, 30)}",
        birthday=birthday,
    )


def order_purchase(source: str, index: int, customers: int, seed: int) -> Purchase:
    """Order ``index``: two or three lines, paid by one of ``customers`` customers, sometimes partly refunded."""
    rng = _rng(seed, "order", index)
    purchased_at = EPOCH + timedelta(seconds=3 * index)
    lines = tuple(_line(rng, number) for number in range(1, rng.choice((2, 3)) + 1))
    total = sum(line.amount for line in lines)
    refunds = _refunds(rng, index, lines[0], purchased_at) if rng.random() < REFUND_SHARE else ()
    store = rng.random() < 0.7
    return Purchase(
        source=source,
        external_id=f"O{index:09d}",
        source_updated_at=refunds[0].occurred_at if refunds else purchased_at,
        customer_external_id=customer_id(rng.randrange(customers)) if customers else None,
        channel="store" if store else "online",
        store_code=rng.choice(STORE_CODES) if store else None,
        status="partially_refunded" if refunds else "completed",
        total_amount=total,
        tax_amount=total * 10 // 110,
        purchased_at=purchased_at,
        lines=lines,
        adjustments=refunds,
    )


def _line(rng: random.Random, number: int) -> PurchaseLine:
    sku, name, price = rng.choice(PRODUCTS)
    quantity = rng.randrange(1, 4)
    return PurchaseLine(
        line_no=number, sku=sku, product_name=name, quantity=quantity, unit_price=price, amount=quantity * price
    )


def _refunds(
    rng: random.Random, index: int, line: PurchaseLine, purchased_at: datetime
) -> tuple[PurchaseAdjustment, ...]:
    """One unit of the first line returned a few days later."""
    at = purchased_at + timedelta(days=rng.randrange(1, 15))
    return (PurchaseAdjustment(external_id=f"R{index:09d}", kind="refund", amount=line.unit_price, occurred_at=at),)


def _mobile_number(seed: int, person: int) -> str:
    """A valid mobile number in the usual hyphenated notation; distinct people get distinct numbers."""
    digits = (person * 7919 + seed) % 30_000_000  # 7919 is prime to 30,000,000: a permutation of the numbers
    prefix, rest = divmod(digits, 10_000_000)
    return f"{_MOBILE_PREFIXES[prefix]}-{1000 + rest // 10_000 % 9000}-{rest % 10_000:04d}"


def _rng(seed: int, kind: str, index: int) -> random.Random:
    return random.Random(f"{seed}/{kind}/{index}")


# ── the connector ────────────────────────────────────────────────────────────────────────────────────

CUSTOMERS = StreamSpec(name="customers", record_type=Profile, cursor_field="position", primary_key="id")
ORDERS = StreamSpec(name="orders", record_type=Purchase, cursor_field="position", primary_key="id")


class BenchSource:
    """A ``Connector`` and ``SlicedBackfiller`` over generated customers and orders; the cursor is an offset."""

    streams: Sequence[StreamSpec] = (CUSTOMERS, ORDERS)

    def __init__(self, instance: str, config: BenchSourceConfig) -> None:
        self.instance = instance
        self.config = config

    def check(self) -> CheckResult:
        """Always reachable: the data is generated."""
        return CheckResult(True, f"{self.config.customers:,} customers and {self.config.orders:,} orders")

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """Pages of ``page_size`` records from the offset in ``cursor`` to the end of the stream."""
        total, _ = self._stream(stream)
        return self._pages(stream, int(StreamCursor.from_json(cursor).page or 0), total)

    def backfill_slices(self, stream: str, count: int) -> Sequence[str]:
        """``count`` ranges of positions of equal size, as ``"start:end"`` (the ``SlicedBackfiller`` capability)."""
        total, _ = self._stream(stream)
        bounds = sorted({total * part // count for part in range(count + 1)})
        return [f"{start}:{end}" for start, end in pairwise(bounds)] or ["0:0"]

    def backfill_slice(self, stream: str, part: str, cursor: str | None) -> Iterator[Batch]:
        """The pages of one range of positions, from the offset in ``cursor`` or the range's start."""
        start, end = (int(bound) for bound in part.split(":"))
        return self._pages(stream, int(StreamCursor.from_json(cursor).page or start), end)

    def _pages(self, stream: str, start: int, stop: int) -> Iterator[Batch]:
        _, record_at = self._stream(stream)
        while start < stop:
            end = min(start + self.config.page_size, stop)
            yield Batch([record_at(index) for index in range(start, end)], StreamCursor(page=str(end)).to_json())
            start = end

    def close(self) -> None:
        """Nothing to release."""

    def _stream(self, name: str) -> tuple[int, Callable[[int], Profile | Purchase]]:
        config, source = self.config, self.instance
        if name == CUSTOMERS.name:
            return config.customers, lambda index: customer_profile(source, index, config.seed)
        if name == ORDERS.name:
            return config.orders, lambda index: order_purchase(source, index, config.customers, config.seed)
        raise PermanentError(f"the bench source has no stream {name!r}")


def create_source(instance: str, config: BenchSourceConfig, secrets: Mapping[str, str]) -> BenchSource:
    """The ``ConnectorType`` factory (the source needs no secrets)."""
    return BenchSource(instance, config)


BENCH_CONNECTOR_TYPE = ConnectorType(
    name="bench",
    description="In-memory generated customers and orders, for the ingest benchmark",
    config_model=BenchSourceConfig,
    factory=create_source,  # type: ignore[arg-type]
    streams=(CUSTOMERS, ORDERS),
)


@hookimpl
def memberhub_connector_types() -> list[ConnectorType]:
    """The bench source type."""
    return [BENCH_CONNECTOR_TYPE]
