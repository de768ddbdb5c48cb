"""DynamoDB calls of `mock_aws` handed to moto's handler in process, without the in-memory HTTP round trip.

Each call in `mock_aws` travels a whole HTTP round trip in memory: botocore signs the request and sends it
through its endpoint, moto's stub matches the URL against every service's patterns, werkzeug builds a
request object, and only then does the service's handler see it. `in_process_dynamodb` hands a DynamoDB
request to moto's handler at once: the same request body (botocore still serializes and validates it)
reaches the same handler, and botocore's parser reads the answer, so results and errors are those of the
long way (tests/local/test_runtime.py runs the same calls both ways). Calls with an endpoint URL (`serve`'s
real HTTP server) and every other service take the long way.

A request whose body holds no binary value takes a shorter way still (`_DirectHandler`): moto's handler
gets the parameters as moto's own parser reads such a body (its JSON), and its answer is handed back as the
dict it made, which is what botocore parses from that answer's JSON; errors are answered the long way.

While active it also spares every moto request work that gives the same result each time (the handler
class's method names, an action's method name, a request id drawn in one call rather than 52), and spares
botocore the slow path of validating attribute values that are plain strings and booleans, and of parsing
an attribute value by trying each of the ten members its shape has.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.endpoint import convert_to_response_dict
from botocore.parsers import JSONParser
from botocore.serialize import JSONSerializer
from botocore.validate import ParamValidator
from moto import settings as moto_settings
from moto.core import models as moto_models
from moto.core import responses as moto_responses
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.botocore_stubber import MockRawResponse
from moto.core.exceptions import HTTPException
from moto.core.parse import BaseJSONParser as MotoJSONParser
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, Request, environ_key_for_header
from moto.core.utils import utcnow
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.iam.models import mark_account_as_visited
from moto.moto_api._internal import mock_random
from moto.utilities.utils import get_partition
from werkzeug.datastructures import Headers as WerkzeugHeaders
from werkzeug.http import http_date


def _in_mock(client: BaseClient) -> bool:
    """Whether the client talks to moto's in-memory stub (mock_aws on, no endpoint of its own)."""
    return bool(moto_models.botocore_stubber.enabled) and client.meta.endpoint_url.endswith(".amazonaws.com")


def _moto_request(method: str, url: str, headers: dict[str, Any], body: bytes | str) -> Request:
    """The request `moto.core.request.Request.from_primitives` makes of an HTTP message, without werkzeug's
    EnvironBuilder: a DynamoDB request is a POST of a JSON body to a bare host, so its environ is small."""
    data = body.encode() if isinstance(body, str) else body
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": parts.path or "/",
        "QUERY_STRING": parts.query,
        "REQUEST_URI": parts.path or "/",
        "RAW_URI": parts.path or "/",
        "SERVER_NAME": parts.hostname or "",
        "SERVER_PORT": str(parts.port or (443 if secure else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": parts.netloc,
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme,
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        PRESERVED_HEADER_NAMES_ENVIRON_KEY: {},
    }
    for key, value in headers.items():
        if key.lower() in ("transfer-encoding", "content-length"):
            continue
        environ[environ_key_for_header(key)] = value.decode("utf-8") if isinstance(value, bytes) else value
    return Request(environ)


def _signed_headers(client: BaseClient, request_dict: dict[str, Any]) -> dict[str, Any]:
    headers = dict(request_dict["headers"])
    credentials = getattr(client._request_signer, "_credentials", None)
    if credentials is not None:
        # moto reads the caller's account from the access key in the signature's Credential field.
        headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/local"
    return headers


def _call_moto_dynamodb(client: BaseClient, request_dict: dict[str, Any]) -> AWSResponse:
    headers = _signed_headers(client, request_dict)
    request = _moto_request(request_dict["method"], request_dict["url"], headers, request_dict["body"])
    try:
        # The URL as sent is the request's raw URL (a bare host and "/"), without werkzeug rebuilding it.
        status, answer_headers, body = DynamoHandler.dispatch(request, request_dict["url"], request.headers)
    except HTTPException as error:  # as moto's stub answers it
        status, answer_headers, body = error.code, error.get_headers(), error.get_body()
    return AWSResponse(request_dict["url"], status, answer_headers, MockRawResponse(body))  # type: ignore[arg-type]


@contextmanager
def in_process_dynamodb() -> Iterator[None]:
    """Give `mock_aws` DynamoDB requests to moto's handler without the in-memory HTTP round trip."""
    original_make_request = BaseClient._make_request
    original_method_names = moto_responses.method_names_from_class

    def make_request(
        self: BaseClient, operation_model: Any, request_dict: dict[str, Any], request_context: Any
    ) -> Any:
        if operation_model.service_model.service_name != "dynamodb" or not _in_mock(self):
            return original_make_request(self, operation_model, request_dict, request_context)
        direct = _direct_call(self, operation_model, request_dict)
        if direct is not None and direct[1] is not None:
            return direct
        http = direct[0] if direct is not None else _call_moto_dynamodb(self, request_dict)
        response_dict = convert_to_response_dict(http, operation_model)
        endpoint = self._endpoint
        parser = _dynamodb_parser(
            endpoint._response_parser_factory, operation_model.service_model.resolved_protocol
        )
        parsed = parser.parse(response_dict, operation_model.output_shape)
        if http.status_code >= 300:
            endpoint._add_modeled_error_fields(response_dict, parsed, operation_model, parser)
        return http, parsed

    original_request_id = moto_responses.gen_amzn_requestid_long
    original_underscores = moto_responses.camelcase_to_underscores
    original_validate_structure = ParamValidator._validate_structure

    def validate_structure(self: ParamValidator, params: Any, shape: Any, errors: Any, name: str) -> Any:
        # botocore validates each attribute value by trying its ten members; a value botocore would find
        # nothing to report on is passed at once. Anything else is validated as botocore does.
        if shape.name == "AttributeValue" and _plainly_valid(params):
            return None
        return original_validate_structure(self, params, shape, errors, name)

    original_parse_structure = MotoJSONParser._parse_structure

    def parse_structure(self: MotoJSONParser, shape: Any, value: Any) -> Any:
        # moto reads a request's attribute values as botocore reads answers: by trying each member.
        if shape.name == "AttributeValue":
            return _moto_attribute_value(self, original_parse_structure, shape, value)
        return original_parse_structure(self, shape, value)

    original_serialize = JSONSerializer.serialize_to_request

    def serialize_to_request(self: JSONSerializer, parameters: Any, operation_model: Any) -> Any:
        # botocore walks a DynamoDB request by its shape to write it as JSON. For an operation whose input
        # has no timestamp and a request with no binary value, the walk writes what json.dumps of the
        # parameters writes (DynamoDB's members keep their names, and strings, numbers, booleans, maps and
        # lists are written as they are); anything else is walked.
        frame = _request_frame(self, original_serialize, operation_model)
        if frame is None:
            return original_serialize(self, parameters, operation_model)
        try:
            body = json.dumps(parameters).encode(self.DEFAULT_ENCODING)
        except TypeError:  # bytes (a binary value) or another value json cannot write
            return original_serialize(self, parameters, operation_model)
        if any(tag in body for tag in _BINARY_TAGS):  # binary values given as text are base64'd
            return original_serialize(self, parameters, operation_model)
        return {**frame, "headers": dict(frame["headers"]), "body": body}

    BaseClient._make_request = make_request  # type: ignore[method-assign]
    JSONSerializer.serialize_to_request = serialize_to_request  # type: ignore[method-assign]
    MotoJSONParser._parse_structure = parse_structure  # type: ignore[method-assign]
    # moto lists a handler class's methods with inspect.getmembers on every request; a class's are fixed.
    moto_responses.method_names_from_class = lru_cache(maxsize=None)(original_method_names)  # type: ignore[assignment]
    moto_responses.gen_amzn_requestid_long = _request_id
    ParamValidator._validate_structure = validate_structure  # type: ignore[method-assign]
    # Every request turns its action's name into a method name with a regular expression; names repeat.
    moto_responses.camelcase_to_underscores = lru_cache(maxsize=4096)(original_underscores)
    try:
        yield
    finally:
        BaseClient._make_request = original_make_request  # type: ignore[method-assign]
        JSONSerializer.serialize_to_request = original_serialize  # type: ignore[method-assign]
        MotoJSONParser._parse_structure = original_parse_structure  # type: ignore[method-assign]
        moto_responses.method_names_from_class = original_method_names
        moto_responses.gen_amzn_requestid_long = original_request_id
        ParamValidator._validate_structure = original_validate_structure  # type: ignore[method-assign]
        moto_responses.camelcase_to_underscores = original_underscores


_FRAMES: dict[tuple[str, str], dict[str, Any] | None] = {}


def _request_frame(serializer: JSONSerializer, serialize: Any, operation_model: Any) -> dict[str, Any] | None:
    """What botocore's JSON serializer writes around a DynamoDB operation's body (method, URL path, target
    and content type): its answer for no parameters, which depends on the operation alone. None for another
    service, or an operation whose input has a timestamp (botocore rewrites those)."""
    service = operation_model.service_model.service_name
    key = (service, operation_model.name)
    if key not in _FRAMES:
        plain = service == "dynamodb" and not _has_timestamp(operation_model.input_shape, set())
        _FRAMES[key] = serialize(serializer, {}, operation_model) if plain else None
    return _FRAMES[key]


def _has_timestamp(shape: Any, seen: set[str]) -> bool:
    if shape is None or shape.name in seen:
        return False
    seen.add(shape.name)
    if shape.type_name == "timestamp" or shape.serialization:
        return True
    if shape.type_name == "structure":
        return any(m.serialization or _has_timestamp(m, seen) for m in shape.members.values())
    if shape.type_name == "list":
        return _has_timestamp(shape.member, seen)
    if shape.type_name == "map":
        return _has_timestamp(shape.key, seen) or _has_timestamp(shape.value, seen)
    return False


_BINARY_TAGS = (b'"B"', b'"BS"')


class _DirectHandler(DynamoHandler):
    """moto's DynamoDB handler for a request with no binary value, set up from the request's parts rather
    than from an HTTP message, and keeping a DynamoDB result's dict rather than writing it as JSON.

    `setup_direct` sets what `setup_class` would for such a request (moto's JSON parser reads a body of
    strings, numbers, booleans, maps and lists as `json.loads` does); `serialized` keeps the dict of a
    `DynamoResult` (items already in the wire format) and answers with an empty body. Everything between,
    the action, its errors and moto's headers, is moto's own `call_action`."""

    direct_result: Any = None

    def setup_direct(self, url: str, headers: dict[str, Any], body: bytes) -> None:
        self.is_werkzeug_request = False
        self.normalized_request = None  # type: ignore[assignment]
        self.parsed_url = urlsplit(url)  # type: ignore[assignment]
        self.body = self.raw_body = body
        self.form_data = {}  # type: ignore[assignment]
        self.querystring = self.data = {}
        self.uri, self.path, self.raw_path, self.method = (
            url,
            self.parsed_url.path,
            self.parsed_url.path,
            "POST",
        )
        self.headers = WerkzeugHeaders(headers)
        self.region = _region_of(url)
        self.partition = get_partition(self.region)
        self.uri_match = {}
        self.response_headers = {"server": "amazon.com", "date": _http_date_now()}
        self.params = json.loads(body)
        self.access_key = self.get_access_key()
        self.current_account = self.get_current_account()
        mark_account_as_visited(
            account_id=self.current_account,
            access_key=self.access_key,
            service=self.service_name,  # type: ignore[arg-type]
            region=self.region,
        )

    def serialized(self, action_result: Any) -> Any:
        if type(action_result) is not DynamoResult:
            return super().serialized(action_result)
        self.direct_result = action_result.result
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, ""


_date: tuple[int, str] = (-1, "")
"""The second the `date` header was last written for, and what it said (one tuple: read whole by threads)."""


def _http_date_now() -> str:
    """`http_date(utcnow())`, as moto writes a response's `date` header: written once per second."""
    global _date
    second, text = _date
    now = int(time.time())
    if second != now:
        text = http_date(utcnow())
        _date = (now, text)
    return text


@lru_cache(maxsize=64)
def _region_of(url: str) -> str:
    match = DynamoHandler.region_regex.search(url)
    return match.group(1) if match else DynamoHandler.default_region


def _direct_call(
    client: BaseClient, operation_model: Any, request_dict: dict[str, Any]
) -> tuple[AWSResponse, dict[str, Any] | None] | None:
    """The request the short way: (http, parsed) for a DynamoDB result, (http, None) for any other answer
    (an error, or a result moto writes as JSON itself), to be parsed as the long way parses it; None when
    the request must take the long way (a binary value in it, or moto's access control switched on)."""
    body = request_dict["body"]
    data = body.encode() if isinstance(body, str) else body
    if any(tag in data for tag in _BINARY_TAGS) or (
        ActionAuthenticatorMixin.request_count >= moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    ):
        return None
    url = request_dict["url"]
    handler = _DirectHandler()
    try:
        handler.setup_direct(url, _signed_headers(client, request_dict), data)
        status, headers, answer = handler.call_action()
    except HTTPException as error:  # as moto's stub answers it
        status, headers, answer = error.code, error.get_headers(), error.get_body()
    result = handler.direct_result
    if result is None:
        return AWSResponse(url, status, headers, MockRawResponse(answer)), None  # type: ignore[arg-type]
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    http = AWSResponse(url, int(status), lowered, MockRawResponse(b""))  # type: ignore[arg-type]
    shape = operation_model.output_shape
    parsed = {key: value for key, value in result.items() if shape is not None and key in shape.members}
    metadata: dict[str, Any] = {"HTTPStatusCode": int(status), "HTTPHeaders": lowered}
    if "x-amzn-requestid" in lowered:
        metadata = {"RequestId": lowered["x-amzn-requestid"], **metadata}
    parsed["ResponseMetadata"] = metadata
    return http, parsed


def _plainly_valid(value: Any) -> bool:
    """Whether botocore's validator would report nothing on this attribute value: every member known and
    of its type, maps keyed by strings, lists and string sets of valid members (the model sets no length
    limits it checks). False only means "let botocore look"."""
    if type(value) is not dict:
        return False
    for tag, raw in value.items():
        plain = _PLAIN_VALUES.get(tag)
        if plain is not None:
            if not isinstance(raw, plain):
                return False
        elif tag == "M":
            if type(raw) is not dict or not all(type(k) is str and _plainly_valid(v) for k, v in raw.items()):
                return False
        elif tag == "L":
            if type(raw) not in (list, tuple) or not all(_plainly_valid(v) for v in raw):
                return False
        elif tag in _STRING_SETS:
            if type(raw) not in (list, tuple) or not all(isinstance(v, str) for v in raw):
                return False
        else:
            return False
    return True


class _AttributeValueParser(JSONParser):
    """botocore's JSON parser, reading a DynamoDB attribute value by its one tag instead of trying each
    of the ten members the AttributeValue shape has (which is what botocore's structure parsing does).
    What it reads at once is what botocore returns for it; anything else (binary values) goes to botocore."""

    def _handle_structure(self, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue":
            return self._attribute_value(shape, value)
        return super()._handle_structure(shape, value)

    def _attribute_value(self, shape: Any, value: Any) -> Any:
        if type(value) is dict and len(value) == 1:
            ((tag, raw),) = value.items()
            if raw is not None:
                if tag in _AS_SENT:
                    return {tag: raw}
                if tag == "M" and type(raw) is dict:
                    return {
                        tag: {
                            k: None if v is None else self._attribute_value(shape, v) for k, v in raw.items()
                        }
                    }
                if tag == "L" and type(raw) is list:
                    return {tag: [None if v is None else self._attribute_value(shape, v) for v in raw]}
                if tag in _STRING_SETS and type(raw) is list:
                    return {tag: list(raw)}
        return super()._handle_structure(shape, value)


def _moto_attribute_value(parser: Any, slow: Any, shape: Any, value: Any) -> Any:
    """What moto's JSON request parser makes of an attribute value (strings and booleans as they are, maps
    and lists member by member), read by its one tag; binary values and anything unusual go to `slow`."""
    if type(value) is dict and len(value) == 1:
        ((tag, raw),) = value.items()
        if raw is not None:
            parsed = parser.MAP_TYPE()
            if tag in _AS_SENT:
                parsed[tag] = raw
                return parsed
            if tag == "M" and type(raw) is dict:
                inner = parser.MAP_TYPE()
                for key, item in raw.items():
                    inner[key] = None if item is None else _moto_attribute_value(parser, slow, shape, item)
                parsed[tag] = inner
                return parsed
            if tag == "L" and type(raw) is list:
                parsed[tag] = [
                    None if item is None else _moto_attribute_value(parser, slow, shape, item) for item in raw
                ]
                return parsed
            if tag in _STRING_SETS and type(raw) is list:
                parsed[tag] = list(raw)
                return parsed
    return slow(parser, shape, value)


_PLAIN_VALUES: dict[str, type] = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
"""Attribute value members with no constraint beyond their type (botocore's model has no min or max)."""
_STRING_SETS = frozenset({"SS", "NS"})
_AS_SENT = frozenset({"S", "N", "BOOL", "NULL"})
"""Members botocore's JSON parser returns as they are (strings and booleans: its default handler)."""


def _dynamodb_parser(factory: Any, protocol: str) -> Any:
    if protocol != "json":
        return factory.create_parser(protocol)
    # The factory's defaults (timestamp and blob parsers) are the client's; keep them.
    return _AttributeValueParser(**factory._defaults)


def _request_id(headers: dict[str, Any] | None = None) -> str:
    """A request id like moto's (52 letters and digits from its random source), drawn at once, not in 52
    draws: 208 random bits as hex digits."""
    request_id = format(mock_random.getrandbits(208), "052x")
    if isinstance(headers, dict):
        headers["x-amzn-requestid"] = request_id
    return request_id
