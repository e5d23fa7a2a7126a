"""The answer page's rate limiter: a sliding window per key, bounded memory."""

from __future__ import annotations

from invitegw.gateway.http.answers import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_over_its_limit_waits_for_the_window_to_move() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock=clock)
    assert [limiter.allow("ip:a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("ip:b")  # other keys are not held up
    clock.now += 59.0
    assert not limiter.allow("ip:a")
    clock.now += 1.5
    assert limiter.allow("ip:a")


def test_memory_is_bounded_by_forgetting_the_oldest_keys() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60.0, clock=clock, max_keys=2)
    assert limiter.allow("one")
    assert limiter.allow("two")
    assert limiter.allow("three")  # "one" is forgotten
    assert limiter.allow("one")
    assert not limiter.allow("three")
