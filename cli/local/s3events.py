"""Complete moto's S3 event notifications to the shape S3 sends, so handlers parse them as in AWS."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import quote_plus, unquote_plus

_LOCAL_PRINCIPAL = "AWS:LOCAL"


def _complete_record(record: dict[str, Any]) -> None:
    request_id = uuid.uuid4().hex[:16].upper()
    record.setdefault("userIdentity", {"principalId": _LOCAL_PRINCIPAL})
    record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
    record.setdefault("responseElements", {"x-amz-request-id": request_id, "x-amz-id-2": uuid.uuid4().hex})
    s3 = record.get("s3", {})
    s3.get("bucket", {}).setdefault("ownerIdentity", {"principalId": _LOCAL_PRINCIPAL})
    s3_object = s3.get("object")
    if isinstance(s3_object, dict):
        s3_object.setdefault("sequencer", f"{time.time_ns():X}")
        if "key" in s3_object:
            # S3 form-encodes keys but leaves '/' alone; moto encodes it too.
            s3_object["key"] = quote_plus(unquote_plus(s3_object["key"]), safe="/")


def complete_s3_notification(body: str) -> str:
    """Add what moto leaves out of an S3 notification (identities, request ids); other bodies pass as is."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        return body
    records = message.get("Records") if isinstance(message, dict) else None
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records
    ):
        return body
    for record in records:
        _complete_record(record)
    return json.dumps(message)
