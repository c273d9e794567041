"""The restart rules, on plain numbers: no clock, no sleep, no process."""

from __future__ import annotations

from showctl.players.restarts import Restart, RestartPolicy, next_restart

POLICY = RestartPolicy(budget=3, window=60.0, backoff_first=0.1, backoff_max=0.3, retry_failed=20)


def test_the_first_restart_is_at_once_and_each_after_waits_twice_as_long_up_to_the_most() -> None:
    recent: tuple[float, ...] = ()
    waits = []
    policy = RestartPolicy(budget=10, backoff_first=0.1, backoff_max=0.5)
    for now in (100.0, 101.0, 102.0, 103.0, 104.0, 105.0):
        restart = next_restart(policy, recent, now)
        assert not restart.fail
        waits.append(restart.wait)
        recent = (*restart.recent, now + restart.wait)
    assert waits == [0.0, 0.1, 0.2, 0.4, 0.5, 0.5]


def test_with_the_budget_spent_in_the_window_the_output_fails_and_is_retried_later() -> None:
    assert next_restart(POLICY, (10.0, 20.0, 30.0), 40.0) == Restart(20, True, ())


def test_restarts_older_than_the_window_no_longer_count() -> None:
    restart = next_restart(POLICY, (10.0, 20.0, 30.0), 75.0)  # 10 s is over 60 s ago
    assert restart == Restart(0.2, False, (20.0, 30.0))


def test_a_card_that_never_came_fails_whatever_the_budget() -> None:
    assert next_restart(POLICY, (), 5.0, fail=True) == Restart(20, True, ())


def test_after_a_failure_the_window_starts_afresh() -> None:
    failed = next_restart(POLICY, (10.0, 20.0, 30.0), 40.0)
    assert next_restart(POLICY, failed.recent, 60.0) == Restart(0.0, False, ())
