"""The one backoff formula, in the three shapes its callers use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.domain.backoff import backoff


def test_the_delay_doubles_up_to_the_cap() -> None:
    waits = [backoff(n, first=30, cap=3600) for n in range(10)]
    assert waits == [30, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_the_factor_is_the_callers() -> None:
    assert [backoff(n, first=1, cap=1000, factor=3) for n in (1, 2, 3)] == [1, 3, 9]


def test_symmetric_jitter_spreads_around_the_delay() -> None:
    # The dispatcher's shape ([smtp.retry] jitter = 0.1).
    assert backoff(3, first=60, cap=3600, jitter=0.1, draw=0.5) == 240
    assert backoff(3, first=60, cap=3600, jitter=0.1, draw=0.0) == pytest.approx(216)
    assert backoff(3, first=60, cap=3600, jitter=0.1, draw=0.999999) > 263.99


def test_half_to_all_never_exceeds_the_cap() -> None:
    # The IMAP watcher's shape: between half the delay and all of it.
    assert backoff(1, first=1, cap=300, centre=0.75, jitter=0.25, draw=0.0) == 0.5
    assert backoff(20, first=1, cap=300, centre=0.75, jitter=0.25, draw=0.0) == 150
    assert backoff(20, first=1, cap=300, centre=0.75, jitter=0.25, draw=0.999999) < 300


def test_endless_failures_do_not_overflow() -> None:
    # 2.0 ** 1024 is no float: a watcher failing for days still waits the cap.
    assert backoff(5000, first=1, cap=300) == 300
    assert backoff(400, first=60, cap=21600, factor=10.0) == 21600


@given(
    attempt=st.integers(min_value=-5, max_value=3000),
    first=st.floats(min_value=0, max_value=3600),
    cap=st.floats(min_value=0, max_value=86400),
    factor=st.floats(min_value=1, max_value=10),
    jitter=st.floats(min_value=0, max_value=1),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_the_wait_stays_within_the_spread_of_the_cap(
    attempt: int, first: float, cap: float, factor: float, jitter: float, draw: float
) -> None:
    wait = backoff(attempt, first=first, cap=cap, factor=factor, jitter=jitter, draw=draw)
    assert 0 <= wait <= cap * (1 + jitter) * (1 + 1e-9)
