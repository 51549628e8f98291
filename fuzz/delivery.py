"""A webhook delivery as fuzzer bytes: header lines ``name: value``, an empty line, then the raw body.

A readable framing keeps seeds and saved findings legible and lets the fuzzer mutate headers and body alike.
A delivery without a signature header is signed by the target with the test secret, so mutated bodies get past
the signature check and reach the parser; one that carries a signature header is checked as it stands.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def frame(headers: Mapping[str, str], body: bytes) -> bytes:
    """``headers`` and ``body`` as one input; header values are Latin-1, as HTTP servers decode them."""
    lines = "".join(f"{name}: {value}\n" for name, value in headers.items())
    return lines.encode("latin-1", errors="replace") + b"\n" + body


def unframe(data: bytes) -> tuple[dict[str, str], bytes]:
    """The headers (names as given) and the body of a framed input; no empty line means no headers."""
    head, separator, body = data.partition(b"\n\n")
    if not separator:
        return {}, data
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\n"):
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers[name.strip()] = value.strip()
    return headers, body


def without(headers: Mapping[str, str], *names: str) -> dict[str, str]:
    """``headers`` less the ones named (case-insensitive), e.g. a sandbox delivery's signature."""
    dropped = {name.lower() for name in names}
    return {name: value for name, value in headers.items() if name.lower() not in dropped}


def has_header(headers: Mapping[str, str], name: str) -> bool:
    """Whether ``name`` is among ``headers``, whatever its case."""
    return name.lower() in {given.lower() for given in headers}


def hmac_base64(key: str, message: bytes) -> str:
    """``base64(HMAC-SHA256(key, message))``, the signature every connector's scheme sends."""
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()
