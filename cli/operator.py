"""Operator commands' plumbing: call the operator API, and follow the executions it starts.

Against a deployed stack the API is called over HTTPS with the caller's AWS credentials (SigV4), so API
Gateway knows who calls. On the local runtime the operator function is invoked with the request API
Gateway would send, and `--as NAME` stands for the caller's identity (`local:NAME`).
"""

from __future__ import annotations

import getpass
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from cli.stack import StackRef

MONTH_PATTERN = re.compile(r"^(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])$")
QUARTER_INPUT = re.compile(r"^(?P<year>\d{4})-Q[1-4]$")
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
LOCAL_IDENTITY_PREFIX = "local:"


class RunInputError(ValueError):
    """An operator gave a month, year or mode the runs do not accept."""


class OperatorRefusedError(Exception):
    """The operator API refused the request; the message is its reason."""


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


def monthly_input(month: str, mode: str) -> dict[str, Any]:
    """The body that starts a monthly SVU run (the API adds who asked)."""
    match = MONTH_PATTERN.match(month)
    if not match:
        raise RunInputError(f"month must look like YYYY-MM, got {month!r}")
    _check_mode(mode)
    return {"run_kind": "monthly", "program_year": int(match["year"]), "month": month, "mode": mode}


def annual_input(year: int, mode: str) -> dict[str, Any]:
    """The body that starts an annual incentive run."""
    if not 2000 <= year <= 2100:
        raise RunInputError(f"year must be a four-digit program year, got {year}")
    _check_mode(mode)
    return {"run_kind": "annual", "program_year": year, "mode": mode}


def quarterly_input(quarter: str, mode: str) -> dict[str, Any]:
    """The body that starts a quarterly PMPM run (APC Element 2)."""
    match = QUARTER_INPUT.match(quarter)
    if not match:
        raise RunInputError(f"quarter must look like YYYY-Qn (n 1-4), got {quarter!r}")
    _check_mode(mode)
    return {"run_kind": "quarterly", "program_year": int(match["year"]), "quarter": quarter, "mode": mode}


def _check_mode(mode: str) -> None:
    if mode not in {"final", "preview"}:
        raise RunInputError(f"mode must be final or preview, got {mode!r}")


def local_identity(name: str | None) -> str:
    """`local:<name>` (default: the login name), the identity a local call stands for."""
    return f"{LOCAL_IDENTITY_PREFIX}{name or getpass.getuser()}"


def api_event(method: str, path: str, identity: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Lambda-proxy request API Gateway sends for `method path`, as `identity` signed it."""
    parts = path.strip("/").split("/")
    resource, parameters = path, None
    if len(parts) >= 2:
        parameters = {"run_id": parts[1]}
        resource = "/" + "/".join(["runs", "{run_id}", *parts[2:]])
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": path,
            "stage": "local",
            "identity": {"userArn": identity, "caller": identity},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


Transport = Callable[[str, str, dict[str, Any] | None], tuple[int, dict[str, Any]]]


def lambda_transport(invoke: Callable[[dict[str, Any]], dict[str, Any]], identity: str) -> Transport:
    """Calls through an invoke of the operator function (the local runtime, the demo, tests)."""

    def call(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        response = invoke(api_event(method, path, identity, body))
        return int(response["statusCode"]), json.loads(response.get("body") or "{}")

    return call


def signed_transport(stack: StackRef) -> Transport:
    """Calls the deployed API over HTTPS, signed with the caller's AWS credentials (SigV4)."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.Session()
    base = stack.output("OperatorApiUrl").rstrip("/")
    region = stack.region or session.region_name

    def call(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        credentials = session.get_credentials()
        if credentials is None:
            raise OperatorRefusedError("no AWS credentials: the operator API needs a signed request")
        data = json.dumps(body).encode() if body is not None else None
        request = AWSRequest(
            method=method, url=f"{base}{path}", data=data, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
        prepared = urllib.request.Request(  # noqa: S310 - the stack's own https URL
            request.url, data=data, headers=dict(request.headers.items()), method=method
        )
        try:
            with urllib.request.urlopen(prepared, timeout=60) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b"{}")

    return call


def transport_for(stack: StackRef, as_name: str | None) -> Transport:
    """The local runtime's operator function (as `--as`), or the deployed stack's signed API."""
    if stack.endpoint_url:
        client = stack.client("lambda")
        function = stack.output("OperatorFunctionName")

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            answer = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
            return dict(json.loads(answer["Payload"].read()))

        return lambda_transport(invoke, local_identity(as_name))
    if as_name:
        raise OperatorRefusedError("--as is for the local runtime; a deployed stack knows who you are")
    return signed_transport(stack)


class OperatorApi:
    """The operator API's calls, over a transport."""

    def __init__(self, transport: Transport) -> None:
        self._call = transport

    def _ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, answer = self._call(method, path, body)
        if status >= 400:
            raise OperatorRefusedError(f"{answer.get('error', status)}: {answer.get('message', 'refused')}")
        return answer

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._ok("POST", "/runs", body)

    def recalculate(self, run_id: str) -> dict[str, Any]:
        return self._ok("POST", f"/runs/{quote(run_id, safe='')}/recalculate")

    def approve(self, run_id: str) -> dict[str, Any]:
        return self._ok("POST", f"/runs/{quote(run_id, safe='')}/approve")

    def mark_paid(self, run_id: str, reference: str) -> dict[str, Any]:
        return self._ok("POST", f"/runs/{quote(run_id, safe='')}/mark-paid", {"payment_reference": reference})

    def show(self, run_id: str) -> dict[str, Any]:
        return self._ok("GET", f"/runs/{quote(run_id, safe='')}")

    def runs(self) -> list[dict[str, Any]]:
        return list(self._ok("GET", "/runs")["runs"])


def wait_for(
    stack: StackRef, execution_arn: str, timeout_s: float = 6 * 3600, poll_s: float = 1.0
) -> Execution:
    """Poll an execution until it ends (or the limit passes, reported as RUNNING)."""
    client = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while True:
        described = client.describe_execution(executionArn=execution_arn)
        status = described["status"]
        if status in TERMINAL or time.monotonic() >= deadline:
            output = json.loads(described["output"]) if described.get("output") else None
            return Execution(
                arn=execution_arn,
                status=status,
                output=output,
                error=described.get("error"),
                cause=described.get("cause"),
            )
        time.sleep(poll_s)


class _Invoker(Protocol):
    outputs: dict[str, str]

    def invoke(self, function_name: str, event: Any) -> Any: ...


def runtime_operator(runtime: _Invoker, name: str) -> OperatorApi:
    """The operator API of an in-process local runtime (demo, tests), called as `local:<name>`."""
    function = runtime.outputs["OperatorFunctionName"]
    return OperatorApi(lambda_transport(lambda event: runtime.invoke(function, event), local_identity(name)))
