"""Is a lease holder a process that died on this very host?

A worker's default id is ``host:pid`` (``bootstrap.worker_id``). After ``kill -9`` its
leases stay until they expire (a minute by default), though the worker restarted on the
same host, with another pid, could take them at once: the process that held them is
gone, and this host is the one place that can tell. :func:`dead_local_holder` says so
when the holder's host is ours, its pid is not ours, and no process has that pid.

It errs on the side of waiting: a pid reused by another process looks alive (the lease
then expires as before); an id set in ``worker.id`` (no ``host:pid`` form) is never
judged. Workers that share a host name but not a PID namespace (containers on the host
network) must set ``worker.id``: from one namespace another's processes look dead.
"""

from __future__ import annotations

import os
import socket

__all__ = ["dead_local_holder"]


def _host_and_pid(holder: str) -> tuple[str, int] | None:
    host, sep, pid = holder.rpartition(":")
    if not sep or not host or not pid.isdigit():
        return None
    return host, int(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence and permission check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    except (OverflowError, OSError):
        return True  # not a pid we can judge: assume alive
    return True


def dead_local_holder(holder: str, me: str) -> bool:
    """Whether ``holder`` was a process on this host that no longer runs.

    Parameters:
        holder: the id holding a lease.
        me: this worker's id.

    Returns:
        True only when both ids are ``host:pid`` on this host, the pids differ, and no
        process has the holder's pid.
    """
    theirs, mine = _host_and_pid(holder), _host_and_pid(me)
    if theirs is None or mine is None or theirs[0] != mine[0]:
        return False
    if mine[0] != socket.gethostname() or theirs[1] in {mine[1], os.getpid()}:
        return False
    return theirs[1] > 0 and not _alive(theirs[1])
