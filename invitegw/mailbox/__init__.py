"""Mail, split by job.

- :mod:`invitegw.mailbox.mime`: pure MIME, composing the iMIP email (:rfc:`6047`) and
  reading calendar objects, forwards, TNEF and delivery reports out of received mail;
- :mod:`invitegw.mailbox.transport`: network I/O, the IMAP client and watcher, the SMTP
  sender and the SMTP listener.

Nothing is re-exported here, so importing the pure half never loads the network stack.
"""

from __future__ import annotations

__all__: list[str] = []
