from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.parser.models import S3Model

from cli.local.s3events import complete_s3_notification

pytestmark = pytest.mark.xdist_group("local")

# The shape moto 5.2 sends: no identities, no request ids, '/' encoded in the key.
MOTO_BODY = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-03-01T00:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "c",
                "bucket": {"name": "landing", "arn": "arn:aws:s3:::landing"},
                "object": {"key": "landing%2Fclaims%2Fmarch+file.csv", "size": 2, "eTag": "e"},
            },
        }
    ]
}


def test_moto_notification_is_completed_to_what_s3_sends() -> None:
    # GIVEN a notification as moto sends it, which Powertools' S3 model rejects
    body = json.dumps(MOTO_BODY)
    with pytest.raises(ValueError, match="ownerIdentity"):
        S3Model.model_validate_json(body)

    # WHEN it is completed
    completed = S3Model.model_validate_json(complete_s3_notification(body))

    # THEN it parses, and the key is encoded the way S3 encodes it
    (record,) = completed.Records
    assert record.s3.object is not None
    assert record.s3.object.key == "landing/claims/march+file.csv"


def test_other_bodies_pass_unchanged() -> None:
    # GIVEN S3's test event and a body that is not JSON
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "landing"})

    # WHEN / THEN neither is touched
    assert complete_s3_notification(test_event) == test_event
    assert complete_s3_notification("plain text") == "plain text"
