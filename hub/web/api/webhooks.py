"""``/webhooks/{instance}``: deliveries from external systems, verified by the connector before parsing.

The body is read with a cap — a declared or streamed size over it is answered 413 before anything is
verified or parsed — then handed to the webhook intake (verify, deduplicate, same pipeline as polling).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from core.errors import WebhookRejected
from hub.web.metrics import observe_webhook
from hub.web.state import WebState, web_state

router = APIRouter(tags=["webhooks"])


class WebhookAccepted(BaseModel):
    """A delivery taken in (or recognised as already taken in)."""

    delivery_id: str
    duplicate: bool
    written: int
    quarantined: int


@router.post("/webhooks/{instance}", response_model=WebhookAccepted)
async def receive_webhook(
    instance: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
    request: Request,
    state: Annotated[WebState, Depends(web_state)],
) -> WebhookAccepted:
    """Take in one delivery for a connector instance; 401 forged, 413 too large, 404 no such receiver."""
    started = time.perf_counter()
    try:
        limit = state.webhooks.max_body_bytes
        body = await read_capped(request, limit)
        headers = {name.lower(): value for name, value in request.headers.items()}
        outcome = await run_in_threadpool(state.webhooks.receive, instance, headers, body)
    except Exception:
        observe_webhook(state.hub, instance, "rejected", time.perf_counter() - started)
        raise
    observe_webhook(state.hub, instance, "accepted", time.perf_counter() - started)
    return WebhookAccepted(
        delivery_id=outcome.delivery_id,
        duplicate=outcome.duplicate,
        written=outcome.written,
        quarantined=outcome.quarantined,
    )


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise WebhookRejected(f"body larger than {limit} bytes", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(f"body larger than {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)
