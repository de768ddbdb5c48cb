"""What IAM would say to an AWS API call: the permissions a call needs, and whether a function's policies
in a synthesized template grant them.

moto enforces no IAM, so a handler can call something its least-privilege policy does not allow and every
local test still passes; the deploy then fails with AccessDenied. `permissions_for` maps a recorded call
(service, operation, parameters) to IAM actions on resource ARNs, and `FunctionPolicies` evaluates them the
way IAM does for one principal's identity policies: an explicit Deny wins, else an Allow must match.

Scope: identity policies only (the roles' customer-managed and inline policies). Resource policies, SCPs and
session policies are not evaluated; a permissions boundary or an AWS-managed policy makes the evaluation
refuse rather than guess. Of conditions, only `ForAllValues:StringLike` on `dynamodb:LeadingKeys` is
evaluated (the partition keys an item call touches, which the mapping records); a statement with any other
`Condition` is never taken as allowing and always taken as denying.

`unused_grants` answers the other direction: which (action, resource) pairs a function's policies allow
that no recorded call needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

Resolve = Callable[[Any], Any]


@dataclass(frozen=True, order=True)
class Permission:
    """One IAM action on one resource ARN; for DynamoDB item calls, the partition keys it touches."""

    action: str
    resource: str
    leading_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Encryption:
    """The customer-managed KMS key behind each bucket's default encryption and each queue."""

    bucket_keys: Mapping[str, str] = field(default_factory=dict)  # bucket name -> key ARN
    queue_keys: Mapping[str, str] = field(default_factory=dict)  # queue ARN -> key ARN


@dataclass(frozen=True)
class Scope:
    """Where ARNs of name-only parameters point."""

    region: str
    account_id: str
    encryption: Encryption = field(default_factory=Encryption)


class UnsupportedPolicyError(Exception):
    """A role uses something this evaluator cannot judge (a permissions boundary, an AWS-managed policy)."""


# --- calls -> permissions -------------------------------------------------------------------------------


def _bucket(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _copy_source(source: Any) -> tuple[str, str, bool]:
    """(bucket, key, versioned) of CopyObject's `CopySource`: `bucket/key[?versionId=v]` or a dict."""
    if isinstance(source, Mapping):
        return str(source["Bucket"]), str(source["Key"]), bool(source.get("VersionId"))
    text = unquote(str(source)).lstrip("/")
    path, _, query = text.partition("?versionId=")
    bucket, _, key = path.partition("/")
    return bucket, key, bool(query)


def _s3(
    operation: str, params: Mapping[str, Any], scope: Scope, error: str | None
) -> list[Permission] | None:
    bucket = str(params.get("Bucket", ""))
    key_arn = scope.encryption.bucket_keys.get(bucket)
    versioned = bool(params.get("VersionId"))
    if operation in ("GetObject", "HeadObject"):
        found = [
            Permission("s3:GetObjectVersion" if versioned else "s3:GetObject", _object(bucket, params["Key"]))
        ]
        if key_arn and error is None:
            found.append(Permission("kms:Decrypt", key_arn))
        if error in ("NoSuchKey", "404", "NotFound"):
            # Without s3:ListBucket S3 answers a missing key with 403, so a "not there" branch never runs.
            found.append(Permission("s3:ListBucket", _bucket(bucket)))
        return found
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        found = [Permission("s3:PutObject", _object(bucket, params["Key"]))]
        if params.get("Tagging"):
            found.append(Permission("s3:PutObjectTagging", _object(bucket, params["Key"])))
        if params.get("ACL"):
            found.append(Permission("s3:PutObjectAcl", _object(bucket, params["Key"])))
        key_arn = str(params.get("SSEKMSKeyId") or key_arn or "")
        if key_arn and operation in ("PutObject", "CreateMultipartUpload"):
            found.append(Permission("kms:GenerateDataKey", key_arn))
            if operation == "CreateMultipartUpload":
                found.append(Permission("kms:Decrypt", key_arn))
        return found
    if operation == "CopyObject":
        source_bucket, source_key, source_versioned = _copy_source(params["CopySource"])
        read = "s3:GetObjectVersion" if source_versioned else "s3:GetObject"
        found = [
            Permission(read, _object(source_bucket, source_key)),
            Permission("s3:PutObject", _object(bucket, params["Key"])),
        ]
        source_key_arn = scope.encryption.bucket_keys.get(source_bucket)
        if source_key_arn:
            found.append(Permission("kms:Decrypt", source_key_arn))
        key_arn = str(params.get("SSEKMSKeyId") or key_arn or "")
        if key_arn:
            found.append(Permission("kms:GenerateDataKey", key_arn))
        return found
    if operation == "DeleteObject":
        return [
            Permission(
                "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", _object(bucket, params["Key"])
            )
        ]
    if operation == "DeleteObjects":
        return [
            Permission(
                "s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject",
                _object(bucket, o["Key"]),
            )
            for o in params["Delete"]["Objects"]
        ]
    if operation in ("ListObjectsV2", "ListObjects", "HeadBucket"):
        return [Permission("s3:ListBucket", _bucket(bucket))]
    if operation == "ListObjectVersions":
        return [Permission("s3:ListBucketVersions", _bucket(bucket))]
    if operation == "AbortMultipartUpload":
        return [Permission("s3:AbortMultipartUpload", _object(bucket, params["Key"]))]
    if operation in ("GetObjectTagging", "PutObjectTagging"):
        return [Permission(f"s3:{operation}", _object(bucket, params["Key"]))]
    return None


def _table(name: str, scope: Scope) -> str:
    return (
        name
        if name.startswith("arn:")
        else f"arn:aws:dynamodb:{scope.region}:{scope.account_id}:table/{name}"
    )


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


_PARTITION_KEYS = ("pk", "gsi1pk")  # the tables' and their index's partition key (shared/models/tables.py)


def _key_of(item: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(item[k]["S"]) for k in ("pk",) if k in item)


def _queried_keys(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The partition key value of a query's key condition (`pk = :v` or `gsi1pk = :v`)."""
    condition = str(params.get("KeyConditionExpression", ""))
    values = params.get("ExpressionAttributeValues", {})
    match = re.search(r"\b(?:" + "|".join(_PARTITION_KEYS) + r")\s*=\s*(:\w+)", condition)
    return (str(values[match.group(1)]["S"]),) if match else ()


def _request_keys(request: Mapping[str, Any]) -> tuple[str, ...]:
    return _key_of(request.get("Item") or request.get("Key") or {})


def _dynamodb(operation: str, params: Mapping[str, Any], scope: Scope) -> list[Permission] | None:
    # BatchGetItem and BatchWriteItem are IAM actions of their own; a transaction is authorised item by
    # item as the single-item action it performs.
    if operation == "BatchWriteItem":
        return [
            Permission(
                "dynamodb:BatchWriteItem",
                _table(t, scope),
                tuple(k for r in requests for k in _request_keys(next(iter(r.values())))),
            )
            for t, requests in sorted(params["RequestItems"].items())
        ]
    if operation == "BatchGetItem":
        return [
            Permission(
                "dynamodb:BatchGetItem",
                _table(t, scope),
                tuple(k for key in body["Keys"] for k in _key_of(key)),
            )
            for t, body in sorted(params["RequestItems"].items())
        ]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params["TransactItems"]:
            ((kind, request),) = item.items()
            found.append(
                Permission(
                    f"dynamodb:{_TRANSACT_ACTIONS[kind]}",
                    _table(request["TableName"], scope),
                    _request_keys(request),
                )
            )
        return found
    if "TableName" not in params:
        return None
    resource = _table(str(params["TableName"]), scope)
    if params.get("IndexName"):
        resource += f"/index/{params['IndexName']}"
    keys = _queried_keys(params) if operation == "Query" else _request_keys(params)
    return [Permission(f"dynamodb:{operation}", resource, keys)]


_SQS_ACTIONS = {
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "SendMessageBatch": "SendMessage",
}


def _sqs(operation: str, params: Mapping[str, Any], scope: Scope) -> list[Permission] | None:
    if "QueueUrl" in params:
        account, name = str(params["QueueUrl"]).rstrip("/").split("/")[-2:]
    elif "QueueName" in params:
        account, name = scope.account_id, str(params["QueueName"])
    else:
        return None
    queue = f"arn:aws:sqs:{scope.region}:{account}:{name}"
    found = [Permission(f"sqs:{_SQS_ACTIONS.get(operation, operation)}", queue)]
    key_arn = scope.encryption.queue_keys.get(queue)
    if key_arn and operation == "ReceiveMessage":
        found.append(Permission("kms:Decrypt", key_arn))
    if key_arn and operation in ("SendMessage", "SendMessageBatch"):
        found += [Permission("kms:GenerateDataKey", key_arn), Permission("kms:Decrypt", key_arn)]
    return found


def _kms_key(key_id: str, scope: Scope) -> str:
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith("alias/"):
        return f"arn:aws:kms:{scope.region}:{scope.account_id}:{key_id}"
    return f"arn:aws:kms:{scope.region}:{scope.account_id}:key/{key_id}"


def permissions_for(
    service: str, operation: str, params: Mapping[str, Any], scope: Scope, *, error: str | None = None
) -> tuple[Permission, ...] | None:
    """The IAM permissions an API call needs (`error`: the call's error code, if it failed), or None when
    the operation is not mapped here, which a conformance check must treat as a finding, not a pass."""
    found: list[Permission] | None
    if service == "s3":
        found = _s3(operation, params, scope, error)
    elif service == "dynamodb":
        found = _dynamodb(operation, params, scope)
    elif service == "sqs":
        found = _sqs(operation, params, scope)
    elif service == "sns" and operation in ("Publish", "PublishBatch"):
        found = [Permission("sns:Publish", str(params.get("TopicArn") or params.get("TargetArn")))]
    elif service == "kms" and "KeyId" in params:
        found = [Permission(f"kms:{operation}", _kms_key(str(params["KeyId"]), scope))]
    elif service == "lambda" and operation == "Invoke":
        name = str(params["FunctionName"])
        arn = (
            name
            if name.startswith("arn:")
            else f"arn:aws:lambda:{scope.region}:{scope.account_id}:function:{name}"
        )
        found = [Permission("lambda:InvokeFunction", arn)]
    elif service == "stepfunctions" and "stateMachineArn" in params:
        found = [Permission(f"states:{operation}", str(params["stateMachineArn"]))]
    elif service == "stepfunctions" and "executionArn" in params:
        found = [Permission(f"states:{operation}", str(params["executionArn"]))]
    elif service == "sts" and operation == "GetCallerIdentity":
        found = []  # needs no permission
    elif service == "cloudwatch" and operation == "PutMetricData":
        found = [Permission("cloudwatch:PutMetricData", "*")]
    else:
        found = None
    return None if found is None else tuple(found)


# --- policies -------------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _pattern(text: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, `*` and `?` wildcards."""
    return _pattern(pattern, ignore_case=True).fullmatch(action) is not None


def resource_matches(pattern: str, arn: str) -> bool:
    """IAM resource matching: case-sensitive wildcards within each of the ARN's six colon-separated parts
    (the last part keeps its colons and slashes, so `bucket/*` covers every key below it)."""
    if pattern == "*":
        return True
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != len(actual):
        return False
    return all(
        _pattern(w, ignore_case=False).fullmatch(a) is not None for w, a in zip(wanted, actual, strict=True)
    )


def _leading_keys_condition(condition: Mapping[str, Any]) -> tuple[str, ...] | None:
    if set(condition) != {"ForAllValues:StringLike"}:
        return None
    inner = condition["ForAllValues:StringLike"]
    if set(inner) != {"dynamodb:LeadingKeys"}:
        return None
    return tuple(_listed(inner["dynamodb:LeadingKeys"]))


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True)
class Statement:
    """One resolved policy statement, and where it came from (for messages)."""

    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    conditional: bool
    source: str
    leading_keys: tuple[str, ...] | None = (
        None  # the statement's LeadingKeys patterns, if that is its condition
    )

    @classmethod
    def parse(cls, raw: Mapping[str, Any], source: str) -> Statement:
        condition = raw.get("Condition") or {}
        leading = _leading_keys_condition(condition)
        return cls(
            effect=str(raw["Effect"]),
            actions=tuple(_listed(raw.get("Action"))),
            not_actions=tuple(_listed(raw.get("NotAction"))),
            resources=tuple(_listed(raw.get("Resource"))),
            not_resources=tuple(_listed(raw.get("NotResource"))),
            conditional=bool(condition) and leading is None,
            source=source,
            leading_keys=leading,
        )

    def condition_holds(self, permission: Permission) -> bool:
        """IAM's answer for the one condition evaluated here: every partition key the call touches
        matches one of the patterns (ForAllValues; a call with no keys, like a scan, holds vacuously)."""
        if self.leading_keys is None:
            return not self.conditional
        return all(
            any(_pattern(p, ignore_case=False).fullmatch(k) for p in self.leading_keys)
            for k in permission.leading_keys
        )

    def applies(self, permission: Permission) -> bool:
        """Whether the statement's action and resource blocks both match (conditions aside)."""
        if self.actions:
            action_ok = any(action_matches(a, permission.action) for a in self.actions)
        else:
            action_ok = not any(action_matches(a, permission.action) for a in self.not_actions)
        if self.resources:
            resource_ok = any(resource_matches(r, permission.resource) for r in self.resources)
        else:
            resource_ok = not any(resource_matches(r, permission.resource) for r in self.not_resources)
        return action_ok and resource_ok


@dataclass(frozen=True)
class FunctionPolicies:
    """Every identity-policy statement of one Lambda function's execution role."""

    function: str
    role: str
    statements: tuple[Statement, ...]

    def allows(self, permission: Permission) -> bool:
        """IAM's answer for this principal: no Deny applies and some Allow does, its condition holding
        (an unevaluated condition never allows and always denies)."""
        matching = [s for s in self.statements if s.applies(permission)]
        if any(s.effect == "Deny" and (s.conditional or s.condition_holds(permission)) for s in matching):
            return False
        return any(s.effect == "Allow" and s.condition_holds(permission) for s in matching)


def _role_of(template: Mapping[str, Any], function: str) -> str:
    role = template["Resources"][function]["Properties"]["Role"]
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".", 1)[0])
    raise UnsupportedPolicyError(f"{function}: its role is not a role of the template ({role!r})")


def _names_role(roles: Any, role: str) -> bool:
    return any(isinstance(r, dict) and r.get("Ref") == role for r in roles or [])


def function_policies(template: Mapping[str, Any], function: str, resolve: Resolve) -> FunctionPolicies:
    """The statements of every policy attached to the function's role, their resources resolved with
    `resolve` (intrinsic functions over the physical names of a created stack)."""
    resources = template["Resources"]
    role = _role_of(template, function)
    role_props = resources[role].get("Properties", {})
    if "PermissionsBoundary" in role_props:
        raise UnsupportedPolicyError(f"{role}: permissions boundaries are not evaluated")
    documents: list[tuple[str, Any]] = []
    for arn in role_props.get("ManagedPolicyArns", []):
        target = str(arn.get("Ref")) if isinstance(arn, dict) else ""
        if target not in resources or resources[target]["Type"] != "AWS::IAM::ManagedPolicy":
            raise UnsupportedPolicyError(f"{role}: managed policy {arn!r} is not in the template")
        documents.append((target, resources[target]["Properties"]["PolicyDocument"]))
    for inline in role_props.get("Policies", []):
        documents.append((f"{role}/{inline['PolicyName']}", inline["PolicyDocument"]))
    for logical_id, resource in resources.items():
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and _names_role(
            resource.get("Properties", {}).get("Roles"), role
        ):
            documents.append((logical_id, resource["Properties"]["PolicyDocument"]))
    statements = []
    for source, document in documents:
        raw = document["Statement"]
        for statement in raw if isinstance(raw, list) else [raw]:
            statements.append(Statement.parse(resolve(statement), source))
    return FunctionPolicies(function, role, tuple(statements))


# --- verdicts -------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ApiCall:
    """An AWS API call a function's handler made, with the permissions it needs (None: not mapped)."""

    function: str
    service: str
    operation: str
    permissions: tuple[Permission, ...] | None


@dataclass(frozen=True, order=True)
class Violation:
    """A permission a function used that its policies do not grant."""

    function: str
    action: str
    resource: str
    operation: str

    def __str__(self) -> str:
        return f"{self.function}: {self.action} on {self.resource} (by {self.operation})"


def violations(calls: Iterable[ApiCall], policies: Mapping[str, FunctionPolicies]) -> list[Violation]:
    """Every distinct (function, permission) the calls needed and the function's policies deny; an
    unmapped operation is reported as the action `<service>:<Operation>?` on `?`."""
    found: set[Violation] = set()
    for call in calls:
        if call.permissions is None:
            found.add(Violation(call.function, f"{call.service}:{call.operation}?", "?", call.operation))
            continue
        for permission in call.permissions:
            if not policies[call.function].allows(permission):
                found.add(Violation(call.function, permission.action, permission.resource, call.operation))
    return sorted(found)


@dataclass(frozen=True, order=True)
class UnusedGrant:
    """An (action, resource) a function's policy allows that none of its recorded calls needed."""

    function: str
    action: str
    resource: str
    source: str

    def __str__(self) -> str:
        return f"{self.function}: {self.action} on {self.resource} ({self.source})"


def unused_grants(
    calls: Iterable[ApiCall],
    policies: Mapping[str, FunctionPolicies],
    *,
    exempt: Callable[[str, str], bool] = lambda action, resource: False,
) -> list[UnusedGrant]:
    """Every (function, action, resource) an Allow statement grants that no call of that function needed,
    the statement's condition holding; `exempt(action, resource)` skips grants no handler call can show
    (each exemption with its reason at the caller)."""
    used: dict[str, list[Permission]] = {}
    for call in calls:
        used.setdefault(call.function, []).extend(call.permissions or ())
    found: set[UnusedGrant] = set()
    for function, policy in policies.items():
        needed = used.get(function, [])
        for statement in policy.statements:
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                for resource in statement.resources:
                    if exempt(action, resource):
                        continue
                    if not any(
                        action_matches(action, p.action)
                        and resource_matches(resource, p.resource)
                        and statement.condition_holds(p)
                        for p in needed
                    ):
                        found.add(UnusedGrant(function, action, resource, statement.source))
    return sorted(found)
