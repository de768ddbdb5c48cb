"""One creator per CloudFormation resource type: resolved properties in, (Ref, attributes) out."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cli.local.stack import EventSourceSpec, FunctionSpec

if TYPE_CHECKING:
    from cli.local.template import _Builder

Created = tuple[Any, dict[str, Any]]
Creator = Callable[["_Builder", str, dict[str, Any]], Created]
CREATORS: dict[str, Creator] = {}

_SQS_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
)
_DEFAULT_RUNTIME = "python3.12"
_S3_RULE_KEYS = {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"}


def _creates(kind: str) -> Callable[[Creator], Creator]:
    def register(creator: Creator) -> Creator:
        CREATORS[kind] = creator
        return creator

    return register


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@_creates("AWS::KMS::Key")
def _kms_key(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    kms = b.client("kms")
    options = {k: props[k] for k in ("Description", "KeyUsage", "KeySpec") if k in props}
    metadata = kms.create_key(**options)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    return metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}


@_creates("AWS::KMS::Alias")
def _kms_alias(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    b.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    arn = f"arn:aws:kms:{b.stack.region}:{b.stack.account_id}:{props['AliasName']}"
    return props["AliasName"], {"Arn": arn}


@_creates("AWS::S3::Bucket")
def _bucket(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    s3 = b.client("s3")
    name = b.name(props, "BucketName", logical_id, 63, lower=True)
    if b.stack.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": b.stack.region})
    versioning = props.get("VersioningConfiguration", {}).get("Status")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    # CloudFormation says ServerSideEncryptionByDefault where the S3 API says Apply...
    rules = [
        {_S3_RULE_KEYS.get(key, key): value for key, value in rule.items()}
        for rule in props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    ]
    if rules:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    region = b.stack.region
    return name, {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
    }


@_creates("Custom::S3BucketNotifications")
def _bucket_notifications(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    config = dict(props.get("NotificationConfiguration") or {})
    # S3 -> Lambda direct needs Docker in moto; the project routes S3 through SQS anyway.
    config.pop("LambdaFunctionConfigurations", None)
    b.client("s3").put_bucket_notification_configuration(
        Bucket=props["BucketName"], NotificationConfiguration=config
    )
    return f"{props['BucketName']}-notifications", {}


@_creates("AWS::SQS::Queue")
def _queue(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    sqs = b.client("sqs")
    fifo = bool(props.get("FifoQueue"))
    name = b.name(props, "QueueName", logical_id, 75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {key: _attribute_text(props[key]) for key in _SQS_ATTRIBUTES if key in props}
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = _attribute_text(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _sse(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    if not spec or not spec.get("SSEEnabled"):
        return None
    sse: dict[str, Any] = {"Enabled": True, "SSEType": spec.get("SSEType", "KMS")}
    if spec.get("KMSMasterKeyId"):
        sse["KMSMasterKeyId"] = spec["KMSMasterKeyId"]
    return sse


def _create_table(b: _Builder, logical_id: str, props: dict[str, Any], sse: dict[str, Any] | None) -> Created:
    ddb = b.client("dynamodb")
    name = b.name(props, "TableName", logical_id, 255)
    billing = props.get("BillingMode", "PROVISIONED")
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    index_keys = ("IndexName", "KeySchema", "Projection") + (
        ("ProvisionedThroughput",) if billing == "PROVISIONED" else ()
    )
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(kind):
            request[kind] = [{k: index[k] for k in index_keys if k in index} for index in props[kind]]
    stream = props.get("StreamSpecification", {}).get("StreamViewType")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    if sse:
        request["SSESpecification"] = sse
    description = ddb.create_table(**request)["TableDescription"]
    return name, {"Arn": description["TableArn"], "StreamArn": description.get("LatestStreamArn", "")}


def _table_extras(b: _Builder, name: str, props: dict[str, Any]) -> None:
    ddb = b.client("dynamodb")
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


@_creates("AWS::DynamoDB::Table")
def _table(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    name, attributes = _create_table(b, logical_id, props, _sse(props.get("SSESpecification")))
    _table_extras(b, name, props)
    return name, attributes


@_creates("AWS::SNS::Topic")
def _topic(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    sns = b.client("sns")
    name = b.name(props, "TopicName", logical_id, 256)
    keys = ("KmsMasterKeyId", "DisplayName", "FifoTopic", "ContentBasedDeduplication")
    attributes = {key: _attribute_text(props[key]) for key in keys if key in props}
    arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for subscription in props.get("Subscription", []):
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    return arn, {"TopicArn": arn, "TopicName": name}


@_creates("AWS::SNS::Subscription")
def _subscription(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    arn = b.client("sns").subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props.get("Endpoint", "")
    )["SubscriptionArn"]
    return arn, {"Arn": arn}


@_creates("AWS::IAM::Role")
def _role(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    name = b.name(props, "RoleName", logical_id, 64)
    role = b.client("iam").create_role(
        RoleName=name,
        Path=props.get("Path", "/"),
        AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {})),
    )["Role"]
    return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}


@_creates("AWS::Logs::LogGroup")
def _log_group(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    name = b.name(props, "LogGroupName", logical_id, 512)
    b.client("logs").create_log_group(logGroupName=name)
    arn = f"arn:aws:logs:{b.stack.region}:{b.stack.account_id}:log-group:{name}:*"
    return name, {"Arn": arn}


@_creates("AWS::Lambda::Function")
def _function(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    name = b.name(props, "FunctionName", logical_id, 64)
    environment = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
    handler = props.get("Handler", "index.handler")
    timeout, memory = int(props.get("Timeout", 3)), int(props.get("MemorySize", 128))
    # The code asset never runs: invokes are routed to the handler module in-process.
    arn = b.client("lambda").create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", _DEFAULT_RUNTIME),
        Role=b.role_arn(props.get("Role")),
        Handler=handler,
        Code={"ZipFile": _tiny_zip()},
        Environment={"Variables": environment},
        Timeout=timeout,
        MemorySize=memory,
    )["FunctionArn"]
    b.stack.functions[name] = FunctionSpec(logical_id, name, arn, handler, environment, timeout, memory)
    return name, {"Arn": arn}


@_creates("AWS::Lambda::EventSourceMapping")
def _event_source_mapping(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    # Recorded, not created: moto's own SQS mapping would invoke through Docker on every send.
    function_name = str(props["FunctionName"])
    if function_name.startswith("arn:"):
        function_name = function_name.split(":")[6]
    source_arn = str(props.get("EventSourceArn", ""))
    queue_url = None
    if source_arn.startswith("arn:aws:sqs:"):
        queue_url = b.client("sqs").get_queue_url(QueueName=source_arn.split(":")[5])["QueueUrl"]
    b.stack.event_sources.append(
        EventSourceSpec(
            logical_id=logical_id,
            function_name=function_name,
            source_arn=source_arn,
            queue_url=queue_url,
            batch_size=int(props.get("BatchSize", 10)),
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            enabled=bool(props.get("Enabled", True)),
        )
    )
    return f"{b.stack_name}-{logical_id}", {"Id": f"{b.stack_name}-{logical_id}"}


@_creates("AWS::StepFunctions::StateMachine")
def _state_machine(b: _Builder, logical_id: str, props: dict[str, Any]) -> Created:
    name = b.name(props, "StateMachineName", logical_id, 80)
    arn = b.client("stepfunctions").create_state_machine(
        name=name,
        definition=b.state_machine_definition(logical_id, props),
        roleArn=b.role_arn(props.get("RoleArn")),
        type=props.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    return arn, {"Arn": arn, "Name": name}
