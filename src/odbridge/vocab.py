"""Open Dental's vocabulary: the enums of its records, one definition for every layer.

The API models parse into these, the store keeps their values as text, and the dashboard
and exports list them. Nothing here imports anything of odbridge.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CONTACT_METHOD_LABELS",
    "ContactMethod",
    "Gender",
    "PatStatus",
    "Position",
    "YesNoUnknown",
    "contact_method_label",
]


class PatStatus(StrEnum):
    """A patient's status."""

    PATIENT = "Patient"
    NON_PATIENT = "NonPatient"
    INACTIVE = "Inactive"
    ARCHIVED = "Archived"
    DELETED = "Deleted"
    DECEASED = "Deceased"
    PROSPECTIVE = "Prospective"


class Gender(StrEnum):
    """A patient's gender (Other on newer Open Dental versions)."""

    MALE = "Male"
    FEMALE = "Female"
    UNKNOWN = "Unknown"
    OTHER = "Other"


class Position(StrEnum):
    """A patient's marital status."""

    SINGLE = "Single"
    MARRIED = "Married"
    CHILD = "Child"
    WIDOWED = "Widowed"
    DIVORCED = "Divorced"


class ContactMethod(StrEnum):
    """How a patient prefers to be contacted (confirmations, recalls, in general)."""

    NONE = "None"
    DO_NOT_CALL = "DoNotCall"
    HM_PHONE = "HmPhone"
    WK_PHONE = "WkPhone"
    WIRELESS_PH = "WirelessPh"
    EMAIL = "Email"
    SEE_NOTES = "SeeNotes"
    MAIL = "Mail"
    TEXT_MESSAGE = "TextMessage"


CONTACT_METHOD_LABELS: dict[str, str] = {
    ContactMethod.NONE: "None chosen",
    ContactMethod.DO_NOT_CALL: "Do not call",
    ContactMethod.HM_PHONE: "Home phone",
    ContactMethod.WK_PHONE: "Work phone",
    ContactMethod.WIRELESS_PH: "Mobile phone",
    ContactMethod.EMAIL: "Email",
    ContactMethod.SEE_NOTES: "See notes",
    ContactMethod.MAIL: "Mail",
    ContactMethod.TEXT_MESSAGE: "Text message",
}
"""What people call each contact method (the dashboard, worklists and their downloads)."""


def contact_method_label(code: str | None) -> str:
    """A contact method's friendly name: "Mobile phone" for ``WirelessPh``; "" when the
    field is empty; a name Open Dental added later is shown as it comes."""
    if not code:
        return ""
    return CONTACT_METHOD_LABELS.get(code, code)


class YesNoUnknown(StrEnum):
    """Whether a patient accepts text messages (TxtMsgOk)."""

    UNKNOWN = "Unknown"
    YES = "Yes"
    NO = "No"
