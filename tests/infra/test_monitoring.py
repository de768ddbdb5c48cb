"""Monitoring: alarms on the DLQ, failed executions and function errors, all to the alarm topic."""

from __future__ import annotations

from typing import Any

import pytest

from shared.models.tables import RUN_KINDS
from tests.infra.conftest import Synthesized

pytestmark = pytest.mark.xdist_group("infra")


def _alarms(synth: Synthesized) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.of_type("AWS::CloudWatch::Alarm").values()]


def test_every_alarm_notifies_the_alarm_topic(dev: Synthesized) -> None:
    # GIVEN the alarms
    alarms = _alarms(dev)

    # WHEN / THEN each one has the topic as its action
    assert alarms
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)


def test_dlq_depth_alarms_on_a_single_message(dev: Synthesized) -> None:
    # GIVEN the alarms on the DLQ
    [alarm] = [
        a
        for a in _alarms(dev)
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": ["IngestDlq", "QueueName"]}} in a["Dimensions"]
    ]

    # WHEN / THEN one visible message is enough
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_each_state_machine_has_a_failed_executions_alarm(dev: Synthesized) -> None:
    # GIVEN the failed-execution alarms
    watched = {
        a["Dimensions"][0]["Value"]["Ref"] for a in _alarms(dev) if a["MetricName"] == "ExecutionsFailed"
    }

    # WHEN / THEN every run kind's machine, and the ingest fan-out's, is watched
    runs = {f"{spec.kind.title()}StateMachine" for spec in RUN_KINDS}
    assert watched == runs | {"IngestFanOutStateMachine"}


def test_each_function_has_an_errors_alarm(dev: Synthesized) -> None:
    # GIVEN the error alarms and the functions we own (not CDK's deploy-time handlers)
    watched = {a["Dimensions"][0]["Value"]["Ref"] for a in _alarms(dev) if a["MetricName"] == "Errors"}
    ours = {
        k
        for k, v in dev.of_type("AWS::Lambda::Function").items()
        if "functions." in v["Properties"]["Handler"]
    }

    # WHEN / THEN every one of them is watched
    assert ours and ours == watched


def test_alarm_topic_is_kms_encrypted_and_tls_only(dev: Synthesized) -> None:
    # GIVEN the topic and its policy
    topic = dev.resources["AlarmTopic"]["Properties"]
    statements = [
        s
        for p in dev.of_type("AWS::SNS::TopicPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]

    # WHEN / THEN it uses a customer-managed key and refuses plain HTTP
    assert "Fn::GetAtt" in topic["KmsMasterKeyId"]
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in str(s.get("Condition")) for s in statements)
