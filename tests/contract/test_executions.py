"""ExecutionStarter: a start returns the execution's ARN; the same name and input again is the same
execution, the same name with other input is refused."""

from __future__ import annotations

import pytest

from shared.dal.errors import AlreadyRecordedError
from shared.dal.executions import ExecutionStarter
from tests.contract.conftest import MACHINE, MACHINE_ARN, REGION

REQUEST = {"run_kind": "monthly", "program_year": 2026, "month": "2026-03", "mode": "final"}


def test_a_start_returns_the_executions_arn(executions: ExecutionStarter):
    # GIVEN a state machine
    # WHEN two executions are started
    first = executions.start(MACHINE_ARN, "monthly-2026-03-final-20260401T090000000000", REQUEST)
    second = executions.start(MACHINE_ARN, "monthly-2026-03-final-20260401T090001000000", REQUEST)
    # THEN each ARN names the execution under the machine, as Step Functions forms it
    prefix = f"arn:aws:states:{REGION}:123456789012:execution:{MACHINE}:"
    assert first == f"{prefix}monthly-2026-03-final-20260401T090000000000"
    assert second == f"{prefix}monthly-2026-03-final-20260401T090001000000"


def test_the_same_name_starts_one_execution_and_other_input_under_it_is_refused(executions: ExecutionStarter):
    # GIVEN an execution started
    name = "monthly-2026-03-final-20260401T090000000000"
    first = executions.start(MACHINE_ARN, name, REQUEST)
    # WHEN it is started again with the same input, then with another
    again = executions.start(MACHINE_ARN, name, dict(REQUEST))
    with pytest.raises(AlreadyRecordedError):
        executions.start(MACHINE_ARN, name, REQUEST | {"recalculate": True})
    # THEN the repeat is the same execution
    assert again == first
