"""A bounded property-based run of every operation of /openapi.json against the running
system: no 5xx, and every answer conforms to the schema (status, content type, body,
the problem document of every error). The documented request examples are sent too,
each answer checked the same way."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES_PER_OPERATION = 10  # per operation and generation mode
# the same cases at every run (CI included); FUZZ_SEED=<n> explores others
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))


def fuzz(operation, strategy, base: str, identity: dict[str, str],
         statuses: dict[int, int], failures: list[str],
         examples: int = EXAMPLES_PER_OPERATION) -> Callable[[], None]:
    @seed(SEED)
    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.headers = {**headers, **identity}  # a valid (dev) identity to get past auth
        response = case.call(base_url=base, timeout=15)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # collected: one run reports every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
            raise

    return run


def test_the_api_keeps_its_schema(shared_stack):
    print(f"fuzz seed {SEED} (FUZZ_SEED)")
    base = shared_stack.gateway_url
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    identity = {"X-User-Id": str(uuid.uuid4()), "X-User-Role": "admin", "X-User-Name": "fuzzer"}
    failures: list[str] = []
    statuses: dict[int, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    documented = 0
    for operation in operations:
        explicit = schema.get_strategies_from_examples(operation)
        documented += len(explicit)
        runs = [(operation.as_strategy(mode), EXAMPLES_PER_OPERATION) for mode in GenerationMode]
        if explicit:  # the documented examples, as sent by a client reading the document
            runs.append((st.one_of(explicit), 2 * len(explicit)))
        for strategy, examples in runs:  # valid, invalid (must be 4xx), documented
            try:
                fuzz(operation, strategy, base, identity, statuses, failures, examples)()
            except Unsatisfiable:  # no invalid request exists (e.g. /healthz has no input)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # check failures: recorded
                if not failures or operation.path not in failures[-1]:
                    failures.append(f"{operation.method.upper()} {operation.path}: {exc!r}"[:2000])
    assert not failures, "\n\n".join(failures)
    print("schemathesis statuses:", dict(sorted(statuses.items())),
          f"documented request examples: {documented}")
    assert documented >= 10  # the request bodies' examples reached the run
    assert sum(statuses.values()) >= EXAMPLES_PER_OPERATION * len(operations) // 3
    assert any(200 <= s < 300 for s in statuses)
