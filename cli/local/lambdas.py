"""Route Lambda invokes to the real handlers in-process, and drive SQS event source mappings."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore import context as botocore_context
from moto.awslambda_simple.models import LambdaSimpleBackend

from cli.local.s3events import complete_s3_notification
from cli.local.stack import EventSourceSpec, FunctionSpec, LocalStack

Handler = Callable[[Any, Any], Any]
_SQS_RECEIVE_MAX = 10
_log = logging.getLogger(__name__)

RUNNING_AS: ContextVar[str | None] = ContextVar("p4p_local_running_as", default=None)
"""Physical name of the function whose role the AWS calls of this context are made with: while its
handler runs, and while its SQS event source mapping polls, deletes and retries messages for it. None
outside them. Read by observers such as the IAM conformance test; the runtime itself does not use it."""


@contextmanager
def running_as(function_name: str) -> Iterator[None]:
    """Calls made inside act with `function_name`'s role (see `RUNNING_AS`)."""
    token = RUNNING_AS.set(function_name)
    try:
        yield
    finally:
        RUNNING_AS.reset(token)


@contextmanager
def own_client_context() -> Iterator[None]:
    """Calls made inside start with no botocore client context, as a Lambda's do. A routed handler runs
    inside its caller's call (Step Functions' Invoke, made through boto3 in this process), whose context
    is not the function's own; botocore would deep-copy it on every call the handler makes."""
    token = botocore_context.set_context(None)
    try:
        yield
    finally:
        botocore_context.reset_context(token)


class HandlerFailedError(Exception):
    """A routed handler raised; carries the Lambda-shaped error payload."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorType", "Exception"))
        self.payload = payload


@dataclass
class LocalLambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


@dataclass(frozen=True)
class PumpStats:
    """What one `pump` did: rounds, handler invocations and the fate of the messages."""

    rounds: int = 0
    invocations: int = 0
    received: int = 0
    deleted: int = 0
    retried: int = 0
    handler_errors: int = 0


def _function_name(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":")[6]
    return name_or_arn.split(":")[0]


def _error_payload(error_type: str, exc: Exception, context: LocalLambdaContext) -> dict[str, Any]:
    return {
        "errorType": error_type,
        "errorMessage": str(exc),
        "requestId": context.aws_request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


class LambdaRouter:
    """Calls the handler module of each template function, the way the Lambda runtime would."""

    def __init__(self, functions: Mapping[str, FunctionSpec]) -> None:
        self._functions = dict(functions)
        self._handlers: dict[str, Handler] = {}

    def knows(self, name_or_arn: str) -> bool:
        """Whether the function was created from the template and is routed here."""
        return _function_name(name_or_arn) in self._functions

    def _handler(self, spec: FunctionSpec) -> Handler:
        if spec.name not in self._handlers:
            module_name, attribute = spec.handler.rsplit(".", 1)
            self._handlers[spec.name] = getattr(importlib.import_module(module_name), attribute)
        return self._handlers[spec.name]

    def call(self, name_or_arn: str, event: Any) -> Any:
        """Run the handler with the event; raise `HandlerFailedError` as Lambda reports a function error."""
        spec = self._functions[_function_name(name_or_arn)]
        context = LocalLambdaContext(spec.name, spec.arn, spec.memory_mb, spec.timeout_s)
        try:
            with running_as(spec.name), own_client_context():
                result = self._handler(spec)(event, context)
        except Exception as exc:
            raise HandlerFailedError(_error_payload(type(exc).__name__, exc, context)) from exc
        try:
            json.dumps(result)
        except TypeError as exc:
            raise HandlerFailedError(_error_payload("Runtime.MarshalError", exc, context)) from exc
        return result

    @contextmanager
    def patched(self) -> Iterator[None]:
        """Route moto's Lambda Invoke (from clients and from Step Functions) to `call` while active."""
        original = LambdaSimpleBackend.invoke
        router = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> str | bytes | None:
            if not router.knows(function_name):
                return original(backend, function_name, qualifier, body, headers, response_headers)
            text = body.decode() if isinstance(body, bytes) else body
            try:
                result = router.call(function_name, json.loads(text) if text else {})
            except HandlerFailedError as failure:
                # Step Functions reads this header (boto's FunctionError) to raise the Task's error.
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(failure.payload).encode()
            return json.dumps(result).encode()

        with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
            yield


def _sqs_event(spec: EventSourceSpec, region: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    records = []
    for message in messages:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        body = complete_s3_notification(message["Body"])
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": body,
                "attributes": message.get("Attributes", {}),
                "messageAttributes": attributes,
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": spec.source_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def _failed_ids(spec: EventSourceSpec, result: Any, message_ids: set[str]) -> set[str]:
    if not spec.report_batch_item_failures or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    identifiers = {str(item.get("itemIdentifier") or "") for item in failures if isinstance(item, dict)}
    # Lambda treats an empty or unknown identifier as a failure of the whole batch.
    if len(identifiers) != len(failures) or not identifiers <= message_ids:
        return set(message_ids)
    return identifiers


class QueuePump:
    """Delivers queue messages to functions the way Lambda's SQS event source mapping does."""

    def __init__(self, stack: LocalStack, router: LambdaRouter) -> None:
        self._stack = stack
        self._router = router
        self._sqs = stack.client("sqs")

    def _receive(self, spec: EventSourceSpec) -> list[dict[str, Any]]:
        with running_as(spec.function_name):
            return self._receive_batch(spec)

    def _receive_batch(self, spec: EventSourceSpec) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while len(batch) < spec.batch_size:
            messages = self._sqs.receive_message(
                QueueUrl=spec.queue_url,
                MaxNumberOfMessages=min(_SQS_RECEIVE_MAX, spec.batch_size - len(batch)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not messages:
                break
            batch.extend(messages)
        return batch

    def _deliver(self, spec: EventSourceSpec, batch: list[dict[str, Any]]) -> tuple[int, int, bool]:
        with running_as(spec.function_name):
            return self._deliver_batch(spec, batch)

    def _deliver_batch(self, spec: EventSourceSpec, batch: list[dict[str, Any]]) -> tuple[int, int, bool]:
        ids = {message["MessageId"] for message in batch}
        try:
            result = self._router.call(spec.function_name, _sqs_event(spec, self._stack.region, batch))
            failed, raised = _failed_ids(spec, result, ids), False
        except HandlerFailedError as failure:
            # The type only: a message (a validation error's input, say) could carry row values.
            _log.warning("%s raised %s on a batch of %d", spec.function_name, failure, len(batch))
            _log.debug("handler error detail: %s", failure.payload)
            failed, raised = ids, True
        done = [m for m in batch if m["MessageId"] not in failed]
        retry = [m for m in batch if m["MessageId"] in failed]
        for start in range(0, len(done), _SQS_RECEIVE_MAX):
            chunk = done[start : start + _SQS_RECEIVE_MAX]
            self._sqs.delete_message_batch(
                QueueUrl=spec.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        # Visible again at once so the next round redelivers; moto's receive applies the RedrivePolicy.
        for message in retry:
            self._sqs.change_message_visibility(
                QueueUrl=spec.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return len(done), len(retry), raised

    def pump(self, max_rounds: int = 100) -> PumpStats:
        """Deliver until every mapped queue is empty or `max_rounds` rounds have run."""
        rounds = invocations = received = deleted = retried = errors = 0
        sources = [
            spec
            for spec in self._stack.event_sources
            if spec.enabled and spec.queue_url and self._router.knows(spec.function_name)
        ]
        while rounds < max_rounds:
            rounds += 1
            delivered_any = False
            for spec in sources:
                batch = self._receive(spec)
                if not batch:
                    continue
                delivered_any = True
                invocations += 1
                received += len(batch)
                done, failed, raised = self._deliver(spec, batch)
                deleted, retried, errors = deleted + done, retried + failed, errors + int(raised)
            if not delivered_any:
                break
        return PumpStats(rounds, invocations, received, deleted, retried, errors)


def reset_process_caches() -> None:
    """Forget the clients and services the handlers cached, so they bind to the runtime now in force.

    A Lambda container builds them once; in this process one runtime may follow another (tests, `serve`).
    """
    from functions.ingest.fan_out import ingest_service as fan_out_service
    from functions.ingest.ingest_file import ingest_service
    from functions.operator.operate_runs import lifecycle
    from functions.runs.common import run_service
    from shared.dal.clients import dynamodb_client, s3_client, stepfunctions_client

    caches = (dynamodb_client, s3_client, stepfunctions_client, ingest_service, fan_out_service, run_service)
    for cached in (*caches, lifecycle):
        cached.cache_clear()
