"""The people of the sandbox town: deterministic Japanese shoppers shared by every sandbox emulator.

The same person — name, kana, email, mobile number, address, birthday — is ``person(seed, n)`` in every
emulator started with the same seed, so a Square till, the Shopify shop and the helpdesk can all know person 7
under their own ids and notations, and identity resolution downstream has real work to do. Nothing is stored:
every value derives from ``(seed, n)`` through a hash and Faker ``ja_JP`` reseeded per person.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from faker import Faker

PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県",
    "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県",
    "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県",
    "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県",
    "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip
"""In JIS X 0401 order, so ``JP-{position + 1:02d}`` is the prefecture's ISO 3166-2 code."""
DOMAINS = ("example.jp", "example.co.jp", "example.ne.jp", "example.com")
_KIND = "customers"  # the hash namespace; kept from when only the Shopify sandbox had people, so its data stays
_FAKER_LOCK = threading.Lock()  # one Faker serves every sandbox thread of the process; reseeding is not atomic


def unit(seed: int, kind: str, index: int, salt: str) -> float:
    """A uniform number in [0, 1) fixed by its arguments."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{index}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


def pick(seed: int, kind: str, index: int, salt: str, count: int) -> int:
    """A number in ``range(count)`` fixed by its arguments."""
    return int(unit(seed, kind, index, salt) * count)


@dataclass(frozen=True)
class Person:
    """One shopper, as they would write themselves on a membership form."""

    number: int
    last_name: str
    first_name: str
    last_kana: str
    first_kana: str
    last_roman: str
    first_roman: str
    female: bool
    email: str | None
    mobile: str | None
    """Digits only, domestic: ``09012345678`` (format it as each system writes phones)."""
    prefecture: int
    """Index into ``PREFECTURES``."""
    city: str
    street: str
    building: str | None
    postal_code: str
    """``123-4567``."""
    birthday: date

    @property
    def full_name(self) -> str:
        """The name in Japanese order without a space: ``山田太郎``."""
        return f"{self.last_name}{self.first_name}"

    @property
    def full_kana(self) -> str:
        """The reading in katakana, family name first, separated by a full-width space."""
        return f"{self.last_kana}\u3000{self.first_kana}"

    @property
    def mobile_e164(self) -> str | None:
        """``+819012345678``."""
        return None if self.mobile is None else f"+81{self.mobile[1:]}"

    @property
    def mobile_dashed(self) -> str | None:
        """``090-1234-5678``, as people write it on paper."""
        return None if self.mobile is None else f"{self.mobile[:3]}-{self.mobile[3:7]}-{self.mobile[7:]}"


@lru_cache(maxsize=4096)
def person(seed: int, number: int) -> Person:
    """Person ``number`` (from 1) of the town with ``seed``; the same arguments always give the same person."""
    with _FAKER_LOCK:
        return _person(seed, number)


def _person(seed: int, number: int) -> Person:
    fake = _faker()
    fake.seed_instance(seed * 1_000_003 + number)
    last, last_kana, last_roman = fake.last_name_pair()
    female = unit(seed, _KIND, number, "female") < 0.55
    first, first_kana, first_roman = fake.first_name_female_pair() if female else fake.first_name_male_pair()
    domain = DOMAINS[pick(seed, _KIND, number, "domain", len(DOMAINS))]
    has_email = unit(seed, _KIND, number, "has-email") < 0.92
    prefecture = pick(seed, _KIND, number, "prefecture", len(PREFECTURES))
    city = fake.city()
    street = f"{fake.town()}{fake.chome()}{fake.ban()}{fake.gou()}"
    building = (
        f"{fake.building_name()}{100 + pick(seed, _KIND, number, 'room', 900)}号室"
        if unit(seed, _KIND, number, "building") < 0.4
        else None
    )
    return Person(
        number=number,
        last_name=last,
        first_name=first,
        last_kana=last_kana,
        first_kana=first_kana,
        last_roman=last_roman,
        first_roman=first_roman,
        female=female,
        email=f"{first_roman.lower()}.{last_roman.lower()}{number}@{domain}" if has_email else None,
        mobile=_mobile(seed, number) if unit(seed, _KIND, number, "has-phone") < 0.9 else None,
        prefecture=prefecture,
        city=city,
        street=street,
        building=building,
        postal_code=fake.zipcode(),
        birthday=date(1950, 1, 1) + timedelta(days=pick(seed, _KIND, number, "birthday", 365 * 55)),
    )


def _mobile(seed: int, number: int) -> str:
    prefix = ("070", "080", "090")[pick(seed, _KIND, number, "carrier", 3)]
    subscriber = 1000 + pick(seed, _KIND, number, "ph1", 9000)
    return f"{prefix}{subscriber}{pick(seed, _KIND, number, 'ph2', 10000):04d}"


@lru_cache(maxsize=1)
def _faker() -> Faker:
    return Faker("ja_JP")
