"""Canonical event payloads (SQS-wrapped S3 notifications, run inputs) for tests and docs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

EVENTS_DIR = Path(__file__).parent


def load_event(name: str) -> dict[str, Any]:
    """The event `events/<name>.json` (".json" may be omitted) as a fresh dict."""
    file = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(file.read_text(encoding="utf-8"))


def sqs_s3_event(bucket: str, *keys: str) -> dict[str, Any]:
    """An SQS batch with one S3 ObjectCreated notification per key, built from the sample event."""
    template = load_event("sqs_s3_object_created")
    sqs_record = template["Records"][0]
    records = []
    for number, key in enumerate(keys):
        body = json.loads(sqs_record["body"])
        body["Records"][0]["s3"]["bucket"]["name"] = bucket
        body["Records"][0]["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        body["Records"][0]["s3"]["object"]["key"] = quote_plus(key, safe="/")
        record = copy.deepcopy(sqs_record)
        record["messageId"] = f"{sqs_record['messageId'][:-4]}{number:04d}"
        record["body"] = json.dumps(body)
        records.append(record)
    return {"Records": records}
