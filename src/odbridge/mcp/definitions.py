"""What every figure the MCP tools report means, in words an assistant can repeat.

The tools put each figure's key next to its value; the same text is served as an MCP
resource (``odbridge://definitions/{figure}``), so an assistant can cite the definition
instead of guessing. The wording follows the dashboard's queries (the one place the
figures are computed).
"""

from __future__ import annotations

from odbridge.dashboard import queries
from odbridge.dashboard.queries.overview import TOP_PLACES

DEFINITIONS_URI = "odbridge://definitions"

_ACTIVE = f"Patients whose Open Dental status (PatStatus) is '{queries.ACTIVE_STATUS}'"
_STORE = "Rows no longer returned by Open Dental (marked missing) are not counted."

FIGURES: dict[str, str] = {
    "total_patients": f"Every patient in the store, whatever the status. {_STORE}",
    "active_patients": f"{_ACTIVE}. {_STORE}",
    "statuses": "Patients per Open Dental status (Patient, NonPatient, Inactive, Archived, "
    f"Deleted, Deceased, Prospective), all patients. {_STORE}",
    "new_this_month": "Patients whose first visit date (DateFirstVisit) falls in the current "
    "calendar month, up to today.",
    "new_by_month": f"Patients per month of their first visit date (DateFirstVisit), for the "
    f"last {queries.NEW_PATIENT_MONTHS} months including the current one.",
    "genders": f"{_ACTIVE}, per gender as recorded in Open Dental.",
    "age_bands": f"{_ACTIVE}, per age band (age in whole years today, from the birthdate): "
    + ", ".join(label for label, _low, _high in queries.AGE_BANDS)
    + ". 'age_unknown' counts those without a birthdate or with one in the future.",
    "completeness": f"{_ACTIVE} with: a valid mobile phone (exactly 10 digits once brackets, "
    "dashes, dots, spaces, '+' and '/' are removed); a valid email (one '@' with text before "
    "it, a dot after it with text around it, no spaces); a postal address (street, city and "
    "ZIP all filled in); text messages allowed (TxtMsgOk = Yes).",
    "contact_methods": f"{_ACTIVE}, per preferred contact method (PreferContactMethod); "
    "'Not set' when empty.",
    "by_provider": f"{_ACTIVE}, per primary provider (PriProv, shown by abbreviation).",
    "by_clinic": f"{_ACTIVE}, per clinic (ClinicNum, shown by abbreviation).",
    "balances": "Over all patients: est_balance is the sum of every patient's estimated "
    "balance (EstBalance); est_owing the sum of the positive ones and owing how many there "
    "are; est_credit the sum of the negative ones (credits). bal_total sums the family "
    "balance (BalTotal, held on the guarantor); families_owing counts guarantors with a "
    "positive family balance and families_owing_total sums those balances. Amounts in the "
    "practice's currency, as last synced.",
    "top_cities": f"{_ACTIVE}, the {TOP_PLACES} most common cities (spacing and capitals tidied).",
    "top_zips": f"{_ACTIVE}, the {TOP_PLACES} most common 5-digit ZIP codes.",
    "birthdays_this_week": f"{_ACTIVE} whose birthday falls in the current calendar week "
    "(Monday to Sunday); 29 February birthdays count on 28 February in other years.",
    "freshness": "Per practice: the last sync's mode (full or incremental), outcome, start "
    "and end (UTC), the last successful sync, the last error, and whether a full load is "
    "still unfinished. The store is as current as the last successful sync: nothing is read "
    "from Open Dental when a tool is called.",
    "quality.duplicates": "Possible duplicates: patients sharing last name, first name "
    "(ignoring case and outer spaces) and birthdate in one practice.",
    "quality.phones": "Malformed phone numbers: a home, work or mobile phone that is filled in "
    "but is not exactly 10 digits once separators are removed.",
    "quality.no_phone": "No phone number: home, work and mobile phone all empty.",
    "quality.emails": "Malformed emails: an email that is filled in but not valid (see "
    "completeness).",
    "quality.guarantor": "No valid guarantor: the guarantor is empty or is not a patient of "
    "the same practice in the store.",
}
"""Figure key → definition."""


def definition(figure: str) -> str:
    """The definition of one figure; KeyError for an unknown key."""
    return FIGURES[figure]


def all_definitions() -> str:
    """Every definition, one ``key: text`` paragraph each."""
    return "\n\n".join(f"{key}: {text}" for key, text in FIGURES.items())
