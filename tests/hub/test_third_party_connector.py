"""A connector shipped as its own distribution is found through the entry-point group and synced by the CLI.

The distribution is built from source in a temporary directory and pip-installed into the running venv, as an
operator would install a vendor's package; the CLI runs in subprocesses (its reader children rebuild the
plugin manager from entry points, so nothing here registers the plugin by hand).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

pytestmark = pytest.mark.slow

DISTRIBUTION = "acme-memberhub"

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "acme-memberhub"
version = "0.1.0"
description = "Acme loyalty app connector for MemberHub"
requires-python = ">=3.11"
dependencies = ["memberhub"]

[project.entry-points."memberhub.connectors"]
acme = "acme_memberhub.plugin"

[tool.setuptools]
packages = ["acme_memberhub"]
"""

_PLUGIN = '''\
"""The Acme loyalty app: customers and receipts from a fixed dataset, three records a page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict

from core.plugins import hookimpl
from core.records import CanonicalRecord, Profile, Purchase, PurchaseLine
from core.sync.contract import Batch, CheckResult, ConnectorType, StreamSpec
from core.sync.cursor import StreamCursor

JST = timezone(timedelta(hours=9))
OPENED = datetime(2026, 4, 1, 10, 0, tzinfo=JST)
PAGE_SIZE = 3

CUSTOMERS = (
    ("acme-c001", "山田 花子", "ヤマダ ハナコ", "hanako.yamada@example.jp"),
    ("acme-c002", "佐藤 健太", "サトウ ケンタ", "kenta.sato@example.jp"),
    ("acme-c003", "鈴木 美咲", "スズキ ミサキ", "misaki.suzuki@example.jp"),
    ("acme-c004", "高橋 翔", "タカハシ ショウ", "sho.takahashi@example.jp"),
    ("acme-c005", "田中 さくら", "タナカ サクラ", "sakura.tanaka@example.jp"),
)
RECEIPTS = (
    ("acme-r001", "acme-c001", "抹茶ラテ", 2, 550),
    ("acme-r002", "acme-c003", "どら焼き", 3, 240),
    ("acme-r003", "acme-c005", "ほうじ茶 100g", 1, 980),
    ("acme-r004", "acme-c002", "鮭おにぎり", 4, 160),
)


class AcmeConfig(BaseModel):
    """An Acme account: which store's receipts it reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store_code: str


def _profiles(instance: str, config: AcmeConfig) -> list[CanonicalRecord]:
    return [
        Profile(
            source=instance,
            external_id=customer_id,
            source_updated_at=OPENED + timedelta(minutes=n),
            name=name,
            kana=kana,
            email=email,
        )
        for n, (customer_id, name, kana, email) in enumerate(CUSTOMERS)
    ]


def _purchases(instance: str, config: AcmeConfig) -> list[CanonicalRecord]:
    return [
        Purchase(
            source=instance,
            external_id=receipt_id,
            source_updated_at=OPENED + timedelta(minutes=n),
            customer_external_id=customer_id,
            channel="store",
            store_code=config.store_code,
            total_amount=quantity * price,
            purchased_at=OPENED + timedelta(minutes=n),
            lines=(PurchaseLine(line_no=1, product_name=product, quantity=quantity, unit_price=price,
                                amount=quantity * price),),
        )
        for n, (receipt_id, customer_id, product, quantity, price) in enumerate(RECEIPTS)
    ]


DATASETS = {"profiles": _profiles, "purchases": _purchases}
STREAMS = (StreamSpec("profiles", Profile), StreamSpec("purchases", Purchase))


class AcmeConnector:
    """Pages through the dataset from an inclusive ``updated_since``; the page token is an offset."""

    streams = STREAMS

    def __init__(self, instance: str, config: AcmeConfig) -> None:
        self.instance = instance
        self.config = config

    def check(self) -> CheckResult:
        return CheckResult(ok=True, message=f"Acme store {self.config.store_code} (in-memory)")

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        position = StreamCursor.from_json(cursor)
        since = position.updated_since
        dataset = DATASETS[stream](self.instance, self.config)
        records = [r for r in dataset if since is None or r.source_updated_at >= since]
        start = int(position.page or 0)
        while True:
            page, start = records[start : start + PAGE_SIZE], start + PAGE_SIZE
            if start < len(records):
                yield Batch(page, StreamCursor(since, str(start)).to_json())
                continue
            newest = max((r.source_updated_at for r in records), default=since)
            yield Batch(page, StreamCursor(newest).to_json())
            return

    def close(self) -> None:
        pass


def create_connector(instance: str, config: AcmeConfig, secrets: object) -> AcmeConnector:
    return AcmeConnector(instance, config)


ACME = ConnectorType(
    name="acme",
    description="Acme loyalty app (third-party test connector)",
    config_model=AcmeConfig,
    factory=create_connector,
    streams=STREAMS,
)


@hookimpl
def memberhub_connector_types() -> list[ConnectorType]:
    return [ACME]
'''

_HUB_TOML = """\
[connectors.acme-ginza]
type = "acme"
schedule = "every 1h"
store_code = "ginza"
"""


def _wheel_build_unavailable() -> str | None:
    """Why this venv's setuptools cannot build a wheel offline, or ``None`` if it can.

    setuptools ships ``bdist_wheel`` itself only from 70.1; before that it needs the ``wheel`` package, and
    ``--no-build-isolation --no-index`` lets pip fetch neither.
    """
    setuptools = Version(importlib.metadata.version("setuptools"))
    if setuptools >= Version("70.1") or importlib.util.find_spec("wheel") is not None:
        return None
    return f"setuptools {setuptools} in this venv cannot build wheels without 'wheel'; install setuptools>=70.1"


def _pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check", "--no-input"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def _build_source_tree(root: Path) -> Path:
    (root / "acme_memberhub").mkdir(parents=True)
    (root / "pyproject.toml").write_text(_PYPROJECT, encoding="utf-8")
    (root / "acme_memberhub" / "__init__.py").write_text('"""Acme connector for MemberHub."""\n', encoding="utf-8")
    (root / "acme_memberhub" / "plugin.py").write_text(_PLUGIN, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def acme_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The Acme distribution installed into this venv for the module's tests, uninstalled whatever happens."""
    if reason := _wheel_build_unavailable():
        pytest.skip(reason)
    source = _build_source_tree(tmp_path_factory.mktemp("acme-dist") / "acme-memberhub")
    try:
        _pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir", str(source))
        yield
    finally:
        _pip("uninstall", "-y", DISTRIBUTION)


@pytest.fixture
def acme_hub(hub_cli, acme_installed):
    """An initialised hub whose hub.toml configures one Acme instance, ``acme-ginza``."""
    hub_cli("init")
    (hub_cli.home / "hub.toml").write_text(_HUB_TOML, encoding="utf-8")
    return hub_cli


def _table_rows(output: str, first_cell: str) -> list[list[str]]:
    """The cells of each row of a rich table whose first cell is ``first_cell``."""
    rows = [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in output.splitlines()]
    return [row for row in rows if row[0] == first_cell]


def _summary(output: str) -> dict[str, tuple[str, int, int]]:
    """``hub sync``'s summary: stream → (status, records read, records written)."""
    return {row[1]: (row[3], int(row[4]), int(row[5])) for row in _table_rows(output, "acme-ginza")}


def test_connectors_list_shows_the_installed_type_and_its_instance(acme_hub):
    listed = acme_hub("connectors", "list").stdout

    assert ["acme", "profiles, purchases", "Acme loyalty app (third-party test connector)"] in _table_rows(
        listed, "acme"
    )
    assert ["acme-ginza", "acme", "True", "every 1h", "900s"] in _table_rows(listed, "acme-ginza")


def test_sync_stores_every_record_and_a_second_sync_writes_nothing(acme_hub):
    first = _summary(acme_hub("sync").stdout)
    second = _summary(acme_hub("sync").stdout)

    # Profiles create 5 members. Receipts write 4 headers and 4 lines, plus a placeholder member for each
    # customer whose profile the parallel profiles stream had not stored yet.
    assert first["profiles"] == ("succeeded", 5, 5)
    status, read, written = first["purchases"]
    assert (status, read) == ("succeeded", 4) and 8 <= written <= 12
    # The lookback window reads the same records again; the upserts absorb them.
    assert second == {"profiles": ("succeeded", 5, 0), "purchases": ("succeeded", 4, 0)}


def test_memberhub_plugins_loads_only_the_named_plugins(acme_hub):
    acme_hub.env["MEMBERHUB_PLUGINS"] = "acme"
    listed = acme_hub("connectors", "list").stdout
    assert _table_rows(listed, "acme") and not _table_rows(listed, "example")

    acme_hub.env["MEMBERHUB_PLUGINS"] = "some-other-name"
    result = acme_hub("sync", ok=False)

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "hub.toml: connectors.acme-ginza.type: unknown connector type 'acme'" in result.stderr
