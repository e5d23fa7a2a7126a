"""Pure MIME: composing iMIP email (:rfc:`6047`), reading calendars out of received mail."""

from __future__ import annotations

from invitegw.mailbox.mime.address_headers import (
    header_is_ambiguous,
    parse_address_header,
)
from invitegw.mailbox.mime.bounces import (
    Bounce,
    BounceKind,
    FailedRecipient,
    delivery_status_fields,
    headers_message_id,
    is_delivery_report,
    looks_like_nonstandard_bounce,
    recipients_from_status,
    recipients_from_x_failed,
    status_field,
)
from invitegw.mailbox.mime.calendar_part import (
    CalendarPart,
    PartOrigin,
)
from invitegw.mailbox.mime.compose import (
    ICS_FILENAME,
    InvitationEmail,
    NoticeEmail,
    compose_invitation,
    compose_notice,
    format_msgid,
    header_address,
)
from invitegw.mailbox.mime.envelope import (
    check_envelope_address,
    envelope_of,
    serialize,
)
from invitegw.mailbox.mime.extract import (
    Extraction,
    MimeLimits,
    extract,
)
from invitegw.mailbox.mime.forwards import (
    ForwardKind,
    find_inline_forward,
    has_forward_prefix,
    has_reply_prefix,
    html_to_text,
)
from invitegw.mailbox.mime.headers import (
    MessageHeaders,
    first_value,
    header_index,
    read_headers,
)
from invitegw.mailbox.mime.headertext import (
    decode_bytes,
    decode_words,
    message_id_list,
    normalize_message_id,
    parse_date,
    raw_text,
    resolve_charset,
    unfold,
)
from invitegw.mailbox.mime.params import (
    header_params,
    param_filename,
    param_method,
    param_text,
    simple_params,
)
from invitegw.mailbox.mime.payload import (
    calendar_key,
    decoded_payload,
    looks_like_calendar,
    payload_prefix,
    raw_payload,
    to_utf8,
    transfer_encoding,
)
from invitegw.mailbox.mime.tnef import (
    TnefAttachment,
    TnefContents,
    read_tnef,
)
from invitegw.mailbox.mime.wire import (
    invitation_bytes,
    notice_bytes,
)

__all__ = [
    "ICS_FILENAME",
    "Bounce",
    "BounceKind",
    "CalendarPart",
    "Extraction",
    "FailedRecipient",
    "ForwardKind",
    "InvitationEmail",
    "MessageHeaders",
    "MimeLimits",
    "NoticeEmail",
    "PartOrigin",
    "TnefAttachment",
    "TnefContents",
    "calendar_key",
    "check_envelope_address",
    "compose_invitation",
    "compose_notice",
    "decode_bytes",
    "decode_words",
    "decoded_payload",
    "delivery_status_fields",
    "envelope_of",
    "extract",
    "find_inline_forward",
    "first_value",
    "format_msgid",
    "has_forward_prefix",
    "has_reply_prefix",
    "header_address",
    "header_index",
    "header_is_ambiguous",
    "header_params",
    "headers_message_id",
    "html_to_text",
    "invitation_bytes",
    "is_delivery_report",
    "looks_like_calendar",
    "looks_like_nonstandard_bounce",
    "message_id_list",
    "normalize_message_id",
    "notice_bytes",
    "param_filename",
    "param_method",
    "param_text",
    "parse_address_header",
    "parse_date",
    "payload_prefix",
    "raw_payload",
    "raw_text",
    "read_headers",
    "read_tnef",
    "recipients_from_status",
    "recipients_from_x_failed",
    "resolve_charset",
    "serialize",
    "simple_params",
    "status_field",
    "to_utf8",
    "transfer_encoding",
    "unfold",
]
