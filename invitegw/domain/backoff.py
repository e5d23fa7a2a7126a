"""How long to wait before trying again: one exponential backoff for every retry loop.

The outbox dispatcher (a relay that answered 4xx), the SMTP spool worker (the CRM or the
database down while a received message was handled) and the IMAP watcher (a lost
connection) all wait the same way: the first delay, multiplied by ``factor`` after each
further failure, never more than ``cap``, and spread at random so that many workers
failing at once do not all come back at the same moment. What differs is only the
parameters, which each caller takes from its own settings:

- ``[smtp.retry]``: ``jitter`` spreads the wait evenly around the delay (``± jitter``);
- the IMAP watcher: between half the delay and all of it (never above its cap);
- the spool worker: no spread (the row's claim simply expires at the retry time).

The random draw is a parameter, not a call, so the function is pure and tests pass their
own. Pure: no I/O, no clock, no random source of its own.
"""

from __future__ import annotations

__all__ = ["backoff"]


def backoff(
    attempt: int,
    *,
    first: float,
    cap: float,
    factor: float = 2.0,
    jitter: float = 0.0,
    centre: float = 1.0,
    draw: float = 0.5,
) -> float:
    """The wait, in seconds, after ``attempt`` failed attempts.

    The delay is ``first * factor ** (attempt - 1)``, at most ``cap``; the wait is
    ``centre ± jitter`` times that delay, the point in the range chosen by ``draw`` (0 the
    shortest, 1 the longest): ``jitter=0.1`` waits 90 % to 110 % of the delay,
    ``centre=0.75, jitter=0.25`` between half of it and all of it.

    Parameters:
        attempt: the failures so far (1 after the first; 0 or less counts as 1).
        first: the delay after the first failure, in seconds.
        cap: the longest delay, in seconds (before the spread).
        factor: how much each further failure multiplies the delay by.
        jitter: the spread either side of the centre, as a share of the delay.
        centre: the share of the delay waited when ``draw`` is 0.5.
        draw: a uniform random number in [0, 1) (the caller's random source).

    Returns:
        The seconds to wait, never negative.
    """
    try:
        grown = first * factor ** max(0, attempt - 1)
    except OverflowError:  # a watcher failing for days: 2.0 ** 1024 is past any float
        grown = cap
    base = min(grown, cap)
    return max(0.0, base * centre + base * jitter * (2 * draw - 1))
