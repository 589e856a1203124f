"""HIPAA Safe Harbor de-identification of exported patient rows (45 CFR 164.514(b)(2)).

Every exportable column has a rule (a test checks that none is missing; a column without
one would be dropped):

- ``drop``: names, street address, city, phones, email, SSN, record and account numbers
  (PatNum, ChartNumber, MedicaidID, ImageFolder, SuperFamily, EmployerNum), free text
  (FamFinUrgNote, Ward, site).
- ``pseudonym``: PatNum → ``patient_id``, Guarantor → ``family_id``: a keyed hash
  (HMAC-SHA256) with a key that never leaves this machine, stable from one export to the
  next, so rows can be followed over time without saying who they are.
- ``birthdate``: → ``birth_year`` and ``age`` (text), the age computed from the **years
  alone** (export year minus birth year): month and day beside the birth year would tell
  which side of the export date the birthday falls, and repeated exports would narrow it
  to the day. Ages of 90 and over become ``"90+"`` and their birth year is left out.
- ``year``: any other date or date-time → ``<column>_year``.
- ``zip3``: the first three digits of the ZIP, ``"000"`` for the prefixes of 20,000 people
  or fewer in any of the published Census-based lists (:data:`RESTRICTED_ZIP3`).
- ``language``: an ISO 639-2 code is kept; custom text becomes ``"other"``.
- ``keep``: status, gender, position, state, balances, providers, clinic, billing type,
  preferences and flags.

The key is 32 random bytes in a file of its own (mode 0600) in the user data directory, or
where ``ODBRIDGE_DEID_KEY_FILE`` points. Whoever holds it can recompute a patient's
pseudonym: keep it with the practice, never with the data. A key file others can read is
made private (with a warning); one that belongs to another user, or in a folder others can
change, is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import platformdirs

from odbridge.export.columns import COLUMN_KINDS, OutputColumn
from odbridge.export.errors import ExportError
from odbridge.export.languages import iso639_2
from odbridge.private_files import NotPrivateError, check_secret_file

log = logging.getLogger("odbridge.export")

KEY_FILE_ENV = "ODBRIDGE_DEID_KEY_FILE"
KEY_BYTES = 32

RESTRICTED_ZIP3_2000: frozenset[str] = frozenset(
    {
        *("036", "059", "063", "102", "203", "556", "692", "790", "821"),
        *("823", "830", "831", "878", "879", "884", "890", "893"),
    }
)
"""The 17 prefixes of 20,000 people or fewer by the 2000 Census: the table HHS publishes in
its de-identification guidance (OCR, "Guidance Regarding Methods for De-identification of
Protected Health Information", 2012, section 3.3.3 — first given in the preamble of the
2002 Privacy Rule modifications, 67 FR 53182, 53233)."""

RESTRICTED_ZIP3_2010: frozenset[str] = frozenset(
    {
        *("036", "059", "102", "203", "205", "369", "556", "692", "753"),
        *("772", "821", "823", "878", "879", "884", "893"),
    }
)
"""The prefixes of 20,000 people or fewer by the 2010 Census (three-digit ZCTA populations),
as compiled by de-identification tools since HHS has not republished its table. It adds
205 (Washington, DC government mail), 369 (Alabama), 753 (Dallas) and 772 (Houston) —
the last two are unique or PO-box prefixes with few residents; some compilations omit them,
so we keep them."""

RESTRICTED_ZIP3: frozenset[str] = RESTRICTED_ZIP3_2000 | RESTRICTED_ZIP3_2010
"""Prefixes reported as ``"000"``: the union of the published lists. A prefix small by any
Census count stays restricted (Safe Harbor asks for the current data; the union errs on the
safe side when the lists disagree): 036, 059, 063, 102, 203, 205, 369, 556, 692, 753, 772,
790, 821, 823, 830, 831, 878, 879, 884, 890, 893."""

AGE_CAP = 90
"""Ages from this on are reported as ``"90+"`` and their birth year is withheld."""

OTHER_LANGUAGE = "other"


class Rule(StrEnum):
    """What de-identification does to a column."""

    KEEP = "keep"
    DROP = "drop"
    PSEUDONYM = "pseudonym"
    BIRTHDATE = "birthdate"
    YEAR = "year"
    ZIP3 = "zip3"
    LANGUAGE = "language"


RULES: dict[str, Rule] = {
    "practice": Rule.KEEP,
    "pat_num": Rule.PSEUDONYM,
    "lname": Rule.DROP,
    "fname": Rule.DROP,
    "middle_i": Rule.DROP,
    "preferred": Rule.DROP,
    "pat_status": Rule.KEEP,
    "gender": Rule.KEEP,
    "position": Rule.KEEP,
    "birthdate": Rule.BIRTHDATE,
    "ssn": Rule.DROP,
    "address": Rule.DROP,
    "address2": Rule.DROP,
    "city": Rule.DROP,
    "state": Rule.KEEP,
    "zip": Rule.ZIP3,
    "hm_phone": Rule.DROP,
    "wk_phone": Rule.DROP,
    "wireless_phone": Rule.DROP,
    "guarantor": Rule.PSEUDONYM,
    "email": Rule.DROP,
    "est_balance": Rule.KEEP,
    "pri_prov": Rule.KEEP,
    "pri_prov_abbr": Rule.KEEP,
    "sec_prov": Rule.KEEP,
    "sec_prov_abbr": Rule.KEEP,
    "fee_sched": Rule.KEEP,
    "billing_type": Rule.KEEP,
    "image_folder": Rule.DROP,
    "fam_fin_urg_note": Rule.DROP,
    "chart_number": Rule.DROP,
    "medicaid_id": Rule.DROP,
    "bal_total": Rule.KEEP,
    "employer_num": Rule.DROP,
    "date_first_visit": Rule.YEAR,
    "clinic_num": Rule.KEEP,
    "clinic_abbr": Rule.KEEP,
    "premed": Rule.KEEP,
    "ward": Rule.DROP,
    "prefer_confirm_method": Rule.KEEP,
    "prefer_contact_method": Rule.KEEP,
    "prefer_recall_method": Rule.KEEP,
    "language": Rule.LANGUAGE,
    "admit_date": Rule.YEAR,
    "site_desc": Rule.DROP,
    "date_tstamp": Rule.YEAR,
    "super_family": Rule.DROP,
    "txt_msg_ok": Rule.KEEP,
    "sec_date_entry": Rule.YEAR,
    "first_seen_at": Rule.YEAR,
    "last_synced_at": Rule.YEAR,
    "missing_since": Rule.YEAR,
}

PSEUDONYM_NAMES = {"pat_num": "patient_id", "guarantor": "family_id"}


def rule_for(column: str) -> Rule:
    """The column's rule; a column nobody reviewed is dropped (fail closed)."""
    return RULES.get(column, Rule.DROP)


# -- the key ------------------------------------------------------------------------------


def default_key_file() -> Path:
    """``ODBRIDGE_DEID_KEY_FILE``, else ``<user data dir>/odbridge/deid.key``."""
    chosen = os.environ.get(KEY_FILE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return Path(platformdirs.user_data_dir("odbridge", appauthor=False)) / "deid.key"


def load_or_create_key(path: Path | None = None) -> bytes:
    """The pseudonym key: read from ``path`` (default :func:`default_key_file`), or made
    once (32 random bytes, hex, mode 0600) when the file does not exist yet."""
    path = path or default_key_file()
    _check_private(path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return _create_key(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a key file"
        raise ExportError(
            f"Cannot read the de-identification key {path}: {reason}. "
            f"Fix its permissions, or point {KEY_FILE_ENV} at another key file."
        ) from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise ExportError(
            f"{path} is not a de-identification key (expected {KEY_BYTES * 2} hex digits). "
            "Restore the original key: with a new one every pseudonym changes."
        )
    return key


def _create_key(path: Path) -> bytes:
    key = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(key.hex() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, path)  # never replaces a key made meanwhile
            except FileExistsError:
                return load_or_create_key(path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    except OSError as exc:
        raise ExportError(
            f"Cannot create the de-identification key {path}: {exc.strerror}. "
            f"Point {KEY_FILE_ENV} at a writable place."
        ) from None
    log.info("created the de-identification key %s", path)
    return key


def _check_private(path: Path) -> None:
    """Make a shared key file private (and say so); refuse one that may be someone else's."""
    try:
        fixed = check_secret_file(path, "the de-identification key")
    except NotPrivateError as exc:
        raise ExportError(str(exc)) from None
    for sentence in fixed:
        log.warning("%s", sentence)


class Pseudonymizer:
    """Stable pseudonyms: HMAC-SHA256(key, practice, PatNum), 32 hex digits (128 bits)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError("the key must hold at least 32 bytes")
        self._key = key

    def __call__(self, practice: str, pat_num: int | None) -> str | None:
        if pat_num is None:
            return None
        message = f"odbridge-patient-v1\x1f{practice}\x1f{pat_num}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<hidden>)"


# -- the value rules ----------------------------------------------------------------------

_ZIP3 = re.compile(r"\s*(\d{3})")


def zip3(value: str | None) -> str | None:
    """The first three digits of a US ZIP code; ``"000"`` for a restricted prefix; None
    for anything that does not start with three digits."""
    if not value:
        return None
    found = _ZIP3.match(value)
    if found is None:
        return None
    prefix = found.group(1)
    return "000" if prefix in RESTRICTED_ZIP3 else prefix


def age_in_year(birthdate: date | None, today: date) -> int | None:
    """The age reached in ``today``'s year: ``today.year - birthdate.year``, from the years
    alone (never the month or day, which would reveal more than the birth year); None
    without a birthdate or if born after that year."""
    if birthdate is None:
        return None
    years = today.year - birthdate.year
    return years if years >= 0 else None


def age_label(age: int | None) -> str | None:
    """``"0"``…``"89"``, or ``"90+"``."""
    if age is None:
        return None
    return f"{AGE_CAP}+" if age >= AGE_CAP else str(age)


def birth_year(birthdate: date | None, today: date) -> int | None:
    """The year of birth, withheld (None) for ages of 90 and over."""
    age = age_in_year(birthdate, today)
    if birthdate is None or age is None or age >= AGE_CAP:
        return None
    return birthdate.year


def year_of(value: date | datetime | None) -> int | None:
    """The year of a date or date-time."""
    return value.year if value is not None else None


def language_code(value: str | None) -> str | None:
    """An ISO 639-2 code as is; custom text as ``"other"``."""
    if value is None or not value.strip():
        return None
    return iso639_2(value) or OTHER_LANGUAGE


# -- the plan -----------------------------------------------------------------------------

Getter = Callable[[Sequence[Any]], Any]


@dataclass(frozen=True)
class DeidentifiedLayout:
    """What to read from the store for a de-identified export, its output columns, and how
    to compute each output value from a row read as ``selected``."""

    selected: tuple[str, ...]
    columns: tuple[OutputColumn, ...]
    getters: tuple[Getter, ...]

    def transform(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """One store row (in the order of ``selected``) → the output values."""
        return tuple(get(row) for get in self.getters)


def dropped_columns(columns: Sequence[str]) -> list[str]:
    """The columns de-identification removes."""
    return [name for name in columns if rule_for(name) is Rule.DROP]


def layout(
    requested: Sequence[str], pseudonymize: Pseudonymizer, today: date
) -> DeidentifiedLayout:
    """The de-identified form of an export of ``requested`` columns.

    ``patient_id`` always comes first; the other columns follow in the order asked for,
    dropped ones left out. ``today`` is the day ages are computed for.
    """
    selected = ("practice", "pat_num", *(c for c in requested if c not in ("practice", "pat_num")))
    index = {name: i for i, name in enumerate(selected)}
    columns: list[OutputColumn] = [OutputColumn("patient_id", "text")]
    getters: list[Getter] = [lambda row: pseudonymize(row[0], row[1])]
    for name in requested:
        i = index[name]
        rule = rule_for(name)
        if name == "pat_num" or rule is Rule.DROP:
            continue
        if rule is Rule.KEEP:
            columns.append(OutputColumn(name, COLUMN_KINDS[name]))
            getters.append(_item(i))
        elif rule is Rule.PSEUDONYM:
            columns.append(OutputColumn(PSEUDONYM_NAMES.get(name, f"{name}_id"), "text"))
            getters.append(_pseudonym(i, pseudonymize))
        elif rule is Rule.BIRTHDATE:
            columns.append(OutputColumn("birth_year", "int"))
            getters.append(_birth_year(i, today))
            columns.append(OutputColumn("age", "text"))
            getters.append(_age(i, today))
        elif rule is Rule.YEAR:
            columns.append(OutputColumn(f"{name}_year", "int"))
            getters.append(_applied(i, year_of))
        elif rule is Rule.ZIP3:
            columns.append(OutputColumn("zip3", "text"))
            getters.append(_applied(i, zip3))
        elif rule is Rule.LANGUAGE:
            columns.append(OutputColumn(name, "text"))
            getters.append(_applied(i, language_code))
    return DeidentifiedLayout(selected, tuple(columns), tuple(getters))


def _item(i: int) -> Getter:
    return lambda row: row[i]


def _applied(i: int, function: Callable[[Any], Any]) -> Getter:
    return lambda row: function(row[i])


def _birth_year(i: int, today: date) -> Getter:
    return lambda row: birth_year(row[i], today)


def _age(i: int, today: date) -> Getter:
    return lambda row: age_label(age_in_year(row[i], today))


def _pseudonym(i: int, pseudonymize: Pseudonymizer) -> Getter:
    return lambda row: pseudonymize(row[0], row[i])
