"""The modules the fake vtiger emulates: fields, types and id prefixes (vtiger 8.3 stock).

Written from the facts sheet's description of ``describe`` (field names, mandatory flags,
picklists, reference targets, id prefixes of a fresh install); no recording is copied.
A field spec is ``name:type[:M]`` plus ``|``-separated picklist values or reference
targets after ``=``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_ACTIVITY_REFS = (
    "Accounts|Campaigns|HelpDesk|Invoice|Leads|Potentials|PurchaseOrder|Quotes|SalesOrder"
)
_TASK_STATUSES = "Not Started|In Progress|Completed|Pending Input|Deferred|Planned"
_USER_FIELDS = """
    user_name is_admin first_name last_name roleid email1 status activity_view lead_view
    hour_format end_hour start_hour is_owner title phone_work department phone_mobile
    reports_to_id phone_other email2 phone_fax secondaryemail phone_home date_format signature
    description address_street address_city address_state address_postalcode address_country
    time_zone currency_id currency_grouping_pattern currency_decimal_separator
    currency_grouping_separator currency_symbol_placement imagename internal_mailer theme
    language reminder_interval phone_crm_extension no_of_currency_decimals
    truncate_trailing_zeros dayoftheweek callduration othereventduration calendarsharedtype
    default_record_view leftpanelhide rowheight defaulteventstatus defaultactivitytype
    hidecompletedevents defaultcalendarview defaultlandingpage userlabel
"""
_COMMON_TAIL = (
    "createdtime:datetime",
    "modifiedtime:datetime",
    "modifiedby:reference=Users",
)

SPECS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Events": (
        "18",
        (
            "subject:string:M",
            "assigned_user_id:owner:M",
            "date_start:date:M",
            "time_start:time:M",
            "due_date:date:M",
            "time_end:time:M",
            "recurringtype:picklist=Daily|Weekly|Monthly|Yearly",
            "duration_hours:integer:M",
            "duration_minutes:picklist=00|15|30|45",
            f"parent_id:reference={_ACTIVITY_REFS}",
            "eventstatus:picklist:M=Planned|Held|Not Held",
            "sendnotification:boolean",
            "activitytype:picklist:M=Call|Mobile Call|Meeting",
            "location:string",
            "createdtime:datetime",
            "modifiedtime:datetime",
            "taskpriority:picklist=High|Medium|Low",
            "notime:boolean",
            "visibility:picklist=Private|Public",
            "modifiedby:reference=Users",
            "description:text",
            "reminder_time:integer",
            "contact_id:reference=Contacts",
            "source:string",
            "starred:boolean",
            "tags:string",
        ),
    ),
    "Calendar": (
        "9",
        (
            "subject:string:M",
            "assigned_user_id:owner:M",
            "date_start:date:M",
            "time_start:time:M",
            "time_end:time",
            "due_date:date:M",
            f"parent_id:reference={_ACTIVITY_REFS}",
            "contact_id:reference=Contacts",
            f"taskstatus:picklist:M={_TASK_STATUSES}",
            "eventstatus:picklist=Planned|Held|Not Held",
            "taskpriority:picklist=High|Medium|Low",
            "sendnotification:boolean",
            "createdtime:datetime",
            "modifiedtime:datetime",
            "activitytype:picklist=Call|Meeting|Mobile Call",
            "visibility:picklist=Private|Public",
            "description:text",
            "duration_hours:time",
            "duration_minutes:picklist=00|15|30|45",
            "location:string",
            "reminder_time:integer",
            "recurringtype:picklist=Daily|Weekly|Monthly|Yearly",
            "notime:boolean",
            "modifiedby:reference=Users",
            "source:string",
            "starred:boolean",
            "tags:string",
        ),
    ),
    "Contacts": (
        "12",
        (
            "salutationtype:string",
            "firstname:string",
            "contact_no:string",
            "phone:phone",
            "lastname:string:M",
            "mobile:phone",
            "account_id:reference=Accounts",
            "homephone:phone",
            "leadsource:picklist=Cold Call|Existing Customer|Self Generated|Other",
            "otherphone:phone",
            "title:string",
            "fax:phone",
            "department:string",
            "birthday:date",
            "email:email",
            "contact_id:reference=Contacts",
            "assistant:string",
            "secondaryemail:email",
            "assistantphone:phone",
            "donotcall:boolean",
            "emailoptout:boolean",
            "assigned_user_id:owner:M",
            "reference:boolean",
            "notify_owner:boolean",
            *_COMMON_TAIL,
            "isconvertedfromlead:boolean",
            "source:string",
            "starred:boolean",
            "tags:string",
            "portal:boolean",
            "support_start_date:date",
            "support_end_date:date",
            *(
                f"{side}{part}:{'text' if part == 'street' else 'string'}"
                for part in ("street", "city", "state", "zip", "country", "pobox")
                for side in ("mailing", "other")
            ),
            "description:text",
            "imagename:image",
        ),
    ),
    "Accounts": (
        "11",
        (
            "accountname:string:M",
            "account_no:string",
            "phone:phone",
            "website:url",
            "fax:phone",
            "tickersymbol:string",
            "otherphone:phone",
            "account_id:reference=Accounts",
            "email1:email",
            "employees:integer",
            "email2:email",
            "ownership:string",
            "rating:picklist=Acquired|Active|Market Failed|Project Cancelled|Shutdown",
            "industry:picklist=Banking|Consulting|Other",
            "siccode:string",
            "accounttype:picklist=Customer|Partner|Prospect|Other",
            "annual_revenue:currency",
            "emailoptout:boolean",
            "notify_owner:boolean",
            "assigned_user_id:owner:M",
            *_COMMON_TAIL,
            "isconvertedfromlead:boolean",
            "source:string",
            "starred:boolean",
            "tags:string",
            *(
                f"{side}_{part}:{'text' if part == 'street' else 'string'}"
                for part in ("street", "city", "state", "code", "country", "pobox")
                for side in ("bill", "ship")
            ),
            "description:text",
        ),
    ),
    "Leads": (
        "10",
        (
            "salutationtype:string",
            "firstname:string",
            "lead_no:string",
            "phone:phone",
            "lastname:string:M",
            "mobile:phone",
            "company:string",
            "fax:phone",
            "designation:string",
            "email:email",
            "leadsource:picklist=Cold Call|Existing Customer|Other",
            "website:url",
            "industry:picklist=Banking|Consulting|Other",
            "leadstatus:picklist=Cold|Contacted|Hot|Warm",
            "annualrevenue:currency",
            "rating:picklist=Acquired|Active|Shutdown",
            "noofemployees:integer",
            "assigned_user_id:owner:M",
            "secondaryemail:email",
            *_COMMON_TAIL,
            "emailoptout:boolean",
            "source:string",
            "starred:boolean",
            "tags:string",
            "lane:text",
            "code:string",
            "city:string",
            "country:string",
            "state:string",
            "pobox:string",
            "description:text",
        ),
    ),
    "Users": (
        "19",
        tuple(f"{name}:string" for name in _USER_FIELDS.split()),
    ),
    "ModComments": (
        "30",
        (
            "commentcontent:text:M",
            "assigned_user_id:owner:M",
            "createdtime:datetime",
            "modifiedtime:datetime",
            "related_to:reference=Leads|Contacts|Accounts|Potentials|Project|HelpDesk",
            "creator:reference=Users",
            "parent_comments:reference=ModComments",
            "source:string",
            "customer:reference=Contacts",
            "userid:reference=Users",
            "reasontoedit:string",
            "is_private:boolean",
            "filename:string",
            "related_email_id:integer",
        ),
    ),
}

# describe lists these for Users, but records never carry them.
USER_SECRET_FIELDS = ("user_password", "confirm_password", "accesskey")
LABEL_FIELDS = {
    "Events": ("subject",),
    "Calendar": ("subject",),
    "Contacts": ("firstname", "lastname"),
    "Accounts": ("accountname",),
    "Leads": ("firstname", "lastname"),
    "Users": ("first_name", "last_name"),
    "ModComments": ("commentcontent",),
}
NUMBERING = {
    "Contacts": ("contact_no", "CON"),
    "Accounts": ("account_no", "ACC"),
    "Leads": ("lead_no", "LEA"),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One emulated field; ``label`` and ``default`` as the layout editor sets them.

    ``default`` is what describe reports and what only the web form fills in on a new
    record; the webservice never applies it (issue 11).
    """

    name: str
    type: str
    mandatory: bool = False
    values: tuple[str, ...] = field(default_factory=tuple)
    label: str = ""
    default: str = ""


@dataclass(slots=True)
class ModuleSpec:
    """One emulated module; ``fields`` may grow (custom fields an admin adds)."""

    name: str
    prefix: str
    fields: list[FieldSpec]

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


def _parse(spec: str) -> FieldSpec:
    head, _, values = spec.partition("=")
    parts = head.split(":")
    return FieldSpec(
        name=parts[0],
        type=parts[1],
        mandatory="M" in parts[2:],
        values=tuple(values.split("|")) if values else (),
    )


def build_modules() -> dict[str, ModuleSpec]:
    """Fresh module specs (each fake server gets its own, so custom fields stay local)."""
    modules = {
        name: ModuleSpec(name, prefix, [_parse(s) for s in specs])
        for name, (prefix, specs) in SPECS.items()
    }
    users = modules["Users"]
    for name in ("user_name", "last_name", "email1", "roleid"):
        users.fields[users.names.index(name)] = FieldSpec(name, "string", mandatory=True)
    return modules
