"""The stand-in Viber server's wire: headers, request bodies, signatures, answers."""

from __future__ import annotations

import hashlib
import hmac
import json
from http import HTTPStatus
from typing import Any

from standins._viber_model import ViberApiError, ViberStatus

__all__ = [
    "AUTH_HEADER",
    "MAX_REQUEST_SIZE",
    "SIGNATURE_HEADER",
    "encode",
    "json_dumps",
    "parse_body",
    "phrase",
    "sign",
]

AUTH_HEADER = "X-Viber-Auth-Token"
SIGNATURE_HEADER = "X-Viber-Content-Signature"
# Larger bodies get a Viber answer (status 3) rather than aiohttp's 413.
MAX_REQUEST_SIZE = 4 * 1024 * 1024


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ViberApiError(ViberStatus.BAD_DATA, "badData: the body is not JSON") from None
    if not isinstance(payload, dict):
        raise ViberApiError(ViberStatus.BAD_DATA, "badData: the body is not a JSON object")
    return payload


def encode(event: dict[str, Any]) -> bytes:
    # Non-ASCII stays raw UTF-8 as in Viber's callbacks, so a bot that verifies the
    # signature over re-serialized JSON instead of the raw bytes is caught.
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def sign(auth_token: str, body: bytes) -> str:
    """Viber's ``X-Viber-Content-Signature``: hex HMAC-SHA256 keyed with the auth token."""
    return hmac.new(auth_token.encode(), body, hashlib.sha256).hexdigest()


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def json_dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
