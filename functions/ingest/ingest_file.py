"""IngestFile: SQS batch of S3 notifications → IngestService.ingest per object, partial batch failures."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models import S3Model
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.models.settings import IngestSettings, load_settings
from shared.models.tables import INGEST_MAX_RECEIVES
from shared.observability import logger
from shared.services.ingest import TEST_EVENT, IngestOutcome, IngestService
from shared.services.wiring import build_ingest_service

processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def ingest_service() -> IngestService:
    """Settings are read once per container, on first use."""
    return build_ingest_service(load_settings(IngestSettings))


def record_handler(record: SQSRecord) -> None:
    """One SQS message: an S3 event notification (or the `s3:TestEvent` S3 sends on setup)."""
    body = json.loads(record.body)
    if body.get("Event") == TEST_EVENT:
        logger.info("s3 test event acknowledged")
        return
    notification = S3Model.model_validate(body)
    for s3_record in notification.Records:
        s3_object = s3_record.s3.object
        if s3_object is None:
            continue
        # SQS counts deliveries; on the last before the dead-letter queue, a failure ends the file FAILED.
        attempt = int(record.attributes.approximate_receive_count or 1)
        outcome = ingest_service().ingest(
            s3_record.s3.bucket.name,
            unquote_plus(s3_object.key),
            attempt=attempt,
            last_attempt=attempt >= INGEST_MAX_RECEIVES,
            delivery_id=record.message_id,
        )
        logger.info(
            "object ingested", file_id=outcome.file_id, kind=outcome.kind, status=outcome.status.value
        )
        _emit_metrics(outcome)


def _emit_metrics(outcome: IngestOutcome) -> None:
    # Dimensions are the file kind and status only: low cardinality, and never anything about a member.
    counts = {
        "RowsAccepted": outcome.accepted,
        "RowsRejected": outcome.rejected,
        "EvidenceEvents": outcome.evidence,
    }
    for name, value in counts.items():
        with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
            metric.add_dimension(name="kind", value=outcome.kind or "unknown")
            metric.add_dimension(name="status", value=outcome.status.value)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """SQS event source entry point; returns `batchItemFailures` for the records that failed."""
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
