from __future__ import annotations

import random

import pytest

from intacct.gateway.errors import (
    GatewayServerError,
    ServiceOfflineError,
    ThrottledError,
    UserAuthenticationError,
)
from intacct.gateway.retry import Pause, RetryBudget, RetryPolicy, TaskBudget


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def budget(
    policy: RetryPolicy, clock: FakeClock, pause: Pause | None = None, task: TaskBudget | None = None
) -> RetryBudget:
    return RetryBudget(
        policy, pause or Pause(clock, clock.sleep), task=task, clock=clock, rng=random.Random(7)
    )


def test_non_retryable_errors_fail_at_once():
    clock = FakeClock()
    assert budget(RetryPolicy(), clock).next_wait(UserAuthenticationError()) is None


def test_backoff_grows_exponentially_within_its_cap():
    policy = RetryPolicy(base_delay=1, max_delay=8, max_attempts=20, max_total=10_000)
    rng = random.Random(1)
    ceilings = [min(8, 2 ** (n - 1)) for n in range(1, 8)]
    for attempt, ceiling in enumerate(ceilings, start=1):
        waits = [policy.backoff(attempt, rng) for _ in range(200)]
        assert min(waits) >= 0 and max(waits) <= ceiling
        assert max(waits) > ceiling * 0.8  # full jitter spreads over the whole range


def test_attempts_are_capped():
    clock = FakeClock()
    b = budget(RetryPolicy(max_attempts=3, max_total=10_000), clock)
    waits = [b.next_wait(GatewayServerError(http_status=503)) for _ in range(4)]
    assert [w is not None for w in waits] == [True, True, False, False]


def test_total_retry_time_is_capped():
    clock = FakeClock()
    b = budget(RetryPolicy(base_delay=10, max_delay=10, max_attempts=100, max_total=25), clock)
    spent = 0.0
    while (wait := b.next_wait(GatewayServerError(http_status=502))) is not None:
        clock.sleep(wait)
        spent += wait
    assert spent <= 25


def test_throttling_pauses_every_worker_and_honours_retry_after():
    clock = FakeClock()
    pause = Pause(clock, clock.sleep)
    b = budget(RetryPolicy(base_delay=1, max_delay=60), clock, pause)
    wait = b.next_wait(ThrottledError(retry_after=12.0))
    assert wait >= 12.0
    # a second worker that wants to send now waits out the same pause
    pause.wait()
    assert clock.now >= 12.0


def test_maintenance_window_gets_its_own_longer_patience():
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=2, max_total=5, maintenance_patience=600, maintenance_poll=60)
    b = budget(policy, clock)
    polls = 0
    while (wait := b.next_wait(ServiceOfflineError())) is not None:
        clock.sleep(wait)
        polls += 1
    assert polls == 10  # 600 s of patience polled every 60 s, far beyond max_attempts and max_total


def test_all_calls_of_a_task_share_one_budget_of_failed_attempts_and_waits():
    clock = FakeClock()
    policy = RetryPolicy(base_delay=1, max_delay=1, max_attempts=100, max_total=10_000, task_budget=60)
    task = TaskBudget(policy.task_budget)
    retried = 0
    for _call in range(3):  # three calls, each failing after a 15 s attempt until it gives up
        call = budget(policy, clock, task=task)
        while True:
            started = clock.now
            clock.sleep(15)
            wait = call.next_wait(GatewayServerError(http_status=502), attempt_started=started)
            if wait is None:
                break
            retried += 1
            clock.sleep(wait)
    # The first call: 15 s + a wait (at most 1 s), three times, then 15 s: 60 s spent. The others fail
    # their first attempt with nothing left to retry with.
    assert task.spent >= 60 and retried == task.retries == 3
    assert call.gave_up.startswith("the task's retry budget is spent (retries: 3 (")
    assert task.summary() == f"retries: 3 ({task.spent:.0f} s of the 60 s budget per task)"


def test_concurrent_failures_are_charged_once_each_second():
    task = TaskBudget(100)
    task.charge(0, 10, retry=True)
    task.charge(5, 12, retry=True)  # another worker failing at the same time
    task.charge(20, 21)
    assert task.spent == 13 and task.retries == 2 and task.remaining == 87
    assert task.summary() == "retries: 2 (13 s of the 100 s budget per task)"


def test_maintenance_waits_are_not_charged_to_the_task():
    clock = FakeClock()
    task = TaskBudget(30)
    b = budget(RetryPolicy(maintenance_patience=600, maintenance_poll=60, task_budget=30), clock, task=task)
    while (wait := b.next_wait(ServiceOfflineError())) is not None:
        clock.sleep(wait)
    assert clock.now == 600 and task.spent == 0 and task.retries == 0
    assert b.gave_up == "the maintenance patience of 600 s is spent"


def test_a_spent_task_budget_still_lets_each_call_try_once():
    clock = FakeClock()
    task = TaskBudget(5)
    task.charge(0, 5)
    b = budget(RetryPolicy(), clock, task=task)
    assert b.next_wait(GatewayServerError(http_status=503)) is None
    assert b.attempts == 1


def test_policy_refuses_nonsense():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=5, max_delay=1)
    with pytest.raises(ValueError, match="task_budget"):
        RetryPolicy(task_budget=-1)


def test_a_user_whose_dates_are_not_month_day_year_is_refused():
    from intacct.gateway import requests as build
    from intacct.gateway.client import ClientConfig, IntacctClient
    from intacct.gateway.errors import IntacctError
    from intacct.gateway.responses import UserFormatting

    client = IntacctClient(
        ClientConfig(
            sender=build.SenderCredentials("s", "sender-secret"),
            login=build.LoginCredentials("u", "c", "user-secret"),
            endpoint="http://127.0.0.1:9/ia/xml/xmlgw.phtml",
        )
    )
    client._formatting = UserFormatting(
        record_no="1", locale="en_GB", date_format="/dmY", gmt_offset="+00:00", clock="24"
    )
    with pytest.raises(IntacctError, match="date preferences are '/dmY'"):
        client.user_time_zone()
    client._formatting = UserFormatting(
        record_no="1", locale="en_US", date_format="/mdY", gmt_offset="-05:00", clock="24"
    )
    assert str(client.user_time_zone()) == "UTC-05:00"
