"""The background full sync of the console lookup benchmark, in a process of its own.

    .venv/bin/python bench/console_sync.py INSTANCE

What ``hub sync INSTANCE --full-refresh`` does (every stream of the instance at once, through the hub's own
``SyncEngine``), on the hub the environment names, with the ``bench`` connector type of
bench/ingest_source.py loaded as an extra plugin: it is no installed entry point, so ``hub sync`` cannot
build it. Like ``hub sync``, it first takes the ``[sync] niceness`` of hub.toml. Prints one JSON line per
stream report when the sync ends.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `bench.ingest_source` here; the spawned reader child has it from PYTHONPATH

from hub.runtime import open_hub  # noqa: E402
from hub.settings import load_settings  # noqa: E402
from hub.workers.priority import lower_sync_priority  # noqa: E402

PLUGINS = ("bench.ingest_source",)


def main(argv: list[str]) -> int:
    (instance,) = argv
    hub = open_hub(load_settings())
    lower_sync_priority(hub.config.sync)  # as `hub sync` does: [sync] niceness of the bench's hub.toml
    hub.extra_plugins = PLUGINS  # read by the plugin manager, registry and engine, all built on first use
    try:
        streams = hub.registry.types[hub.registry.instance(instance).type].streams
        reports = hub.sync.run_many([(instance, spec.name) for spec in streams], full_refresh=True)
    finally:
        hub.close()
    for report in reports:
        print(json.dumps({
            "stream": report.stream, "status": report.status, "read": report.records_read,
            "written": report.records_written, "quarantined": report.records_quarantined,
        }))  # fmt: skip
    return 0 if all(report.status == "succeeded" for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
