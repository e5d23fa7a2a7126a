"""systemd's notify protocol (sd_notify(3)) and a watchdog that pings only while work moves.

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET`` (a datagram socket; a leading
``@`` means Linux's abstract namespace) and, with ``WatchdogSec=``, ``$WATCHDOG_USEC``
(and ``$WATCHDOG_PID``). :class:`Notifier` sends ``READY=1`` once ``serve`` has started
its services and jobs, ``STOPPING=1`` when it begins to stop, ``STATUS=...`` lines for
``systemctl status``; without ``$NOTIFY_SOCKET`` every call is a no-op.

:class:`WatchdogService` sends ``WATCHDOG=1`` every half watchdog interval, but only while
every live loop that does work (each job, each IMAP watcher, the spool worker: see
:class:`~invitegw.gateway.monitor.ProcessMonitor`) has made progress within its bound. A
stuck watcher therefore stops the pings, and systemd restarts the service after
``WatchdogSec``; the reason is logged and sent as ``STATUS=``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

from invitegw.gateway.monitor import ProcessMonitor

__all__ = ["Notifier", "WatchdogService", "watchdog_interval"]

logger = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify datagrams to ``$NOTIFY_SOCKET`` (none set: does nothing).

    Parameters:
        env: the environment to read ``NOTIFY_SOCKET`` from (default: ``os.environ``).
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        source = os.environ if env is None else env
        path = source.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if path.startswith("@"):
            self.address = b"\0" + path[1:].encode()  # abstract namespace
        elif path.startswith("/"):
            self.address = path
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """Whether systemd listens (``$NOTIFY_SOCKET`` names a socket)."""
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram.

        Parameters:
            fields: ``READY=1``, ``STATUS=...``, ``WATCHDOG=1`` ...

        Returns:
            True when it was sent (False: no socket, or sending failed; logged once).
        """
        if self.address is None:
            return False
        message = "\n".join(fields).encode()
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._socket.setblocking(False)
                self._socket.sendto(message, self.address)
            except OSError as exc:
                logger.warning("sd_notify to %r failed: %s", self.address, exc)
                return False
        return True

    def ready(self, status: str = "") -> bool:
        """``READY=1`` (and a status line)."""
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self) -> bool:
        """``STOPPING=1``."""
        return self.send("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> bool:
        """``STATUS=text`` for ``systemctl status``."""
        return self.send(f"STATUS={text}")

    def close(self) -> None:
        """Close the socket."""
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings (half of ``$WATCHDOG_USEC``), or ``None`` when not asked for.

    ``$WATCHDOG_PID``, when set, must be this process's id (sd_watchdog_enabled(3)).

    Parameters:
        env: the environment (default: ``os.environ``).

    Returns:
        The interval.
    """
    source = os.environ if env is None else env
    usec = source.get("WATCHDOG_USEC", "")
    pid = source.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) <= 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000


class WatchdogService:
    """Pings the systemd watchdog while every live loop makes progress (a ``Service``).

    Parameters:
        notifier: where pings go.
        monitor: the loops to watch.
        interval: seconds between pings (half the watchdog timeout).
    """

    name = "systemd-watchdog"

    def __init__(self, notifier: Notifier, monitor: ProcessMonitor, interval: float) -> None:
        self.notifier = notifier
        self.monitor = monitor
        self.interval = interval
        self.pings = 0
        self.withheld = 0
        self._stuck: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Ping once now, then every interval in a thread."""
        self._stop.clear()
        self.tick()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop pinging."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> bool:
        """One check: ping when nothing is stuck, else say what is (once per change).

        Returns:
            Whether a ping was sent.
        """
        stalled = self.monitor.stalled()
        names = tuple(str(s) for s in stalled)
        if names != self._stuck:
            self._stuck = names
            if names:
                text = "stuck: " + ", ".join(names)
                logger.error("%s; the systemd watchdog is no longer pinged", text)
                self.notifier.status(text)
            else:
                logger.warning("every loop makes progress again; pinging the watchdog")
                self.notifier.status("serving")
        if names:
            self.withheld += 1
            return False
        sent = self.notifier.send("WATCHDOG=1")
        self.pings += int(sent)
        return sent
