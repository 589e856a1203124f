"""Every visit endpoint's answers, as the simulator sends them, become exactly the rows the
models make of them, and take the sync's fast path where they can (odbridge.sync.decode)."""

from __future__ import annotations

import pytest

from odbridge.api import models_visits as mv
from odbridge.api.models import ApiModel
from odbridge.api.paging import parse_page
from odbridge.store import schema_visits as sv
from odbridge.sync.decode import PageDecoder, rows_page
from odbridge.sync.rowform import RowForm
from tests.helpers import SimulatorFactory, client_for

pytestmark = pytest.mark.integration

ENDPOINTS: list[tuple[str, dict[str, str], type[ApiModel], RowForm]] = [
    ("/providers", {}, mv.Provider, RowForm(sv.providers, "prov_num")),
    ("/clinics", {}, mv.Clinic, RowForm(sv.clinics, "clinic_num")),
    ("/definitions", {"includeHidden": "true"}, mv.Definition, RowForm(sv.definitions, "def_num")),
    ("/operatories", {}, mv.Operatory, RowForm(sv.operatories, "operatory_num")),
    (
        "/appointmenttypes",
        {},
        mv.AppointmentType,
        RowForm(sv.appointment_types, "appointment_type_num"),
    ),
    ("/recalltypes", {}, mv.RecallType, RowForm(sv.recall_types, "recall_type_num")),
    ("/recalls", {}, mv.Recall, RowForm(sv.recalls, "recall_num")),
    ("/appointments", {}, mv.Appointment, RowForm(sv.appointments, "apt_num")),
    ("/procedurelogs", {}, mv.ProcedureLog, RowForm(sv.procedure_logs, "proc_num")),
    (
        "/histappointments",
        {},
        mv.HistAppointment,
        RowForm(sv.deleted_appointments, "hist_appt_num"),
    ),
]


def test_every_visit_answer_is_plain_and_stored_as_the_models_store_it(
    simulator_factory: SimulatorFactory,
) -> None:
    sim = simulator_factory(patients=120)
    with client_for(sim) as client:
        for path, filters, model, form in ENDPOINTS:
            decoder = PageDecoder(model, form)
            offset, rows = 0, 0
            while True:
                params = {**filters, "Limit": "100", "Offset": str(offset)}
                body = client.get_parsed(path, params, bytes)
                # the fast path, but for histappointments: its rows carry the whole appointment,
                # fields the model keeps as extras, which only the models store
                plain = decoder.plain_rows(body) is not None
                assert plain is (path != "/histappointments"), path
                fast = decoder.parse(body, offset, 100, path)
                models = rows_page(
                    form, parse_page(model, body, offset=offset, limit=100, path=path)
                )
                assert fast.items == models.items, path
                assert (fast.rejected, fast.server_time) == (models.rejected, models.server_time)
                rows += len(fast.items)
                offset += fast.received
                if fast.received < 100:
                    break
            assert rows > 0, path
