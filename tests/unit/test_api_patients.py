"""The patients resource against a small in-memory fake of the API (httpx.MockTransport)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from odbridge.api.client import Client
from odbridge.api.errors import NotFoundError, ResponseFormatError
from odbridge.api.listing import format_changed_since
from odbridge.api.models import PatientSummary, PatStatus

pytestmark = pytest.mark.unit

BASE = datetime(2024, 1, 1, 8, 0, 0)
SERVER_NOW = "2024-06-01 12:00:00"


class FakeApi:
    """Patients ordered by PatNum; Limit capped at ``cap``; DateTStamp filter inclusive."""

    def __init__(self, count: int, cap: int = 100) -> None:
        self.cap = cap
        self.requests: list[httpx.Request] = []
        self.patients: list[dict[str, Any]] = [
            {
                "PatNum": n,
                "LName": f"Name{n}",
                "PatStatus": "Archived" if n % 10 == 0 else "Patient",
                "DateTStamp": (BASE + timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S"),
            }
            for n in range(1, count + 1)
        ]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/v1")
        query = request.url.params
        if path.startswith("/patients/") and path[10:].isdigit():
            found = [p for p in self.patients if p["PatNum"] == int(path[10:])]
            return (
                httpx.Response(200, json=found[0])
                if found
                else httpx.Response(404, json="Patient not found.")
            )
        rows = self.patients
        if "DateTStamp" in query:
            rows = [p for p in rows if p["DateTStamp"] >= query["DateTStamp"]]
            rows = [{"serverDateTime": SERVER_NOW, **p} for p in rows]
        if "PatStatus" in query:
            rows = [p for p in rows if p["PatStatus"] == query["PatStatus"]]
        limit = min(int(query.get("Limit", self.cap)), self.cap)
        offset = int(query.get("Offset", 0))
        page = rows[offset : offset + limit]
        if path == "/patients":
            page = [{"PatNum": p["PatNum"], "LName": p["LName"], "TxtMsgOk": "No"} for p in page]
        return httpx.Response(200, json=page)

    def params(self, index: int = -1) -> dict[str, str]:
        return dict(self.requests[index].url.params)


def client_for(api: FakeApi, **kwargs: Any) -> Client:
    return Client(
        "dev",
        "cust",
        base_url="http://od.test/api/v1",
        rate_interval=0,
        transport=httpx.MockTransport(api),
        **kwargs,
    )


def test_iterating_the_list_reads_every_patient_across_pages() -> None:
    api = FakeApi(250)
    with client_for(api) as client:
        pat_nums = [p.pat_num for p in client.patients.list()]
        stats = client.stats.as_dict()
    assert pat_nums == list(range(1, 251))
    assert [api.params(i)["Offset"] for i in range(3)] == ["0", "100", "200"]
    assert all(api.params(i)["Limit"] == "100" for i in range(3))
    assert "PatStatus" not in api.params(0)  # every status
    assert stats["pages"] == 3
    assert stats["rows"] == 250


def test_list_fetches_one_page_and_the_rest_only_when_iterated() -> None:
    api = FakeApi(250)
    with client_for(api) as client:
        page = client.patients.list()
        assert len(api.requests) == 1
        assert [p.pat_num for p in page.items] == list(range(1, 101))
        rows = iter(page)
        for _ in range(100):
            next(rows)
        assert len(api.requests) == 1
        next(rows)
        assert len(api.requests) == 2


def test_pages_walk_page_by_page_for_per_page_transactions() -> None:
    api = FakeApi(120)
    with client_for(api) as client:
        pages = list(client.patients.list(limit=50, offset=10).pages())
    assert [(len(p.items), p.offset, p.is_last) for p in pages] == [
        (50, 10, False),
        (50, 60, False),
        (10, 110, True),
    ]
    assert api.params(0) == {"Limit": "50", "Offset": "10"}


def test_list_sends_typed_filters_by_the_apis_names() -> None:
    api = FakeApi(50)
    with client_for(api) as client:
        page = client.patients.list(
            pat_status=PatStatus.ARCHIVED,
            clinic_num=3,
            birthdate=date(1980, 2, 29),
            lname="Nam",
            gender=None,
            limit=10,
        )
    assert api.params() == {
        "PatStatus": "Archived",
        "ClinicNum": "3",
        "Birthdate": "1980-02-29",
        "LName": "Nam",
        "Limit": "10",
        "Offset": "0",
    }
    assert [p.pat_num for p in page.items] == [10, 20, 30, 40, 50]  # the fake filters PatStatus


def test_changed_since_returns_rows_and_the_next_cursor() -> None:
    api = FakeApi(30)
    with client_for(api) as client:
        page = client.patients.list(changed_since=BASE + timedelta(minutes=25))
    assert api.params()["DateTStamp"] == "2024-01-01 08:25:00"
    assert [p.pat_num for p in page.items] == [25, 26, 27, 28, 29, 30]
    assert page.server_time == datetime(2024, 6, 1, 12, 0, 0)
    assert page.is_last


def test_changes_page_through_and_carry_server_time() -> None:
    api = FakeApi(260)
    with client_for(api) as client:
        changed = list(client.patients.list(changed_since="2024-01-01 08:10:00"))
        pages = list(client.patients.list(changed_since="2024-01-01 08:10:00").pages())
    assert [p.pat_num for p in changed] == list(range(10, 261))
    assert all(p.server_date_time == datetime(2024, 6, 1, 12) for p in changed)
    assert [(len(p.items), p.offset) for p in pages] == [(100, 0), (100, 100), (51, 200)]
    assert {p.server_time for p in pages} == {datetime(2024, 6, 1, 12)}


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, 999), "2024-01-02 03:04:05"),
        (date(2024, 1, 2), "2024-01-02 00:00:00"),
        ("2024-01-02 03:04:05", "2024-01-02 03:04:05"),
        ("2024-01-02T03:04:05", "2024-01-02 03:04:05"),
    ],
)
def test_format_changed_since(since: datetime | date | str, expected: str) -> None:
    assert format_changed_since(since) == expected


def test_changed_since_refuses_zones_and_nonsense() -> None:
    with pytest.raises(ValueError, match="without a zone"):
        format_changed_since(datetime(2024, 1, 1, tzinfo=BASE.astimezone().tzinfo))
    with pytest.raises(ValueError, match="yyyy-MM-dd HH:mm:ss"):
        format_changed_since("last tuesday")


def test_search_uses_the_patient_select_endpoint() -> None:
    api = FakeApi(5)
    with client_for(api) as client:
        rows = client.patients.search(lname="Na", hide_inactive=True, clinic_nums=[1, 2])
        every = list(client.patients.search(show_archived=True))
    assert api.requests[0].url.path == "/api/v1/patients"
    assert api.params(0) == {
        "LName": "Na",
        "hideInactive": "true",
        "clinicNums": "1,2",
        "Limit": "100",
        "Offset": "0",
    }
    assert all(isinstance(r, PatientSummary) for r in rows.items)
    assert len(rows.items) == 5
    assert len(every) == 5
    assert api.params()["showArchived"] == "true"


def test_get_one_patient_and_not_found() -> None:
    api = FakeApi(3)
    with client_for(api) as client:
        assert client.patients.get(2).lname == "Name2"
        with pytest.raises(NotFoundError, match="Patient not found"):
            client.patients.get(99)
        with pytest.raises(ValueError, match="positive integer"):
            client.patients.get(0)


def test_malformed_row_names_field_row_and_path_but_not_the_value() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"PatNum": 1}, {"PatNum": "Secretname"}])

    client = Client(
        "dev",
        "cust",
        base_url="http://od.test/api/v1",
        rate_interval=0,
        transport=httpx.MockTransport(handler),
    )
    with client, pytest.raises(ResponseFormatError) as caught:
        list(client.patients.list(offset=40))
    message = str(caught.value)
    assert "PatNum: expected an integer (row 41)" in message
    assert "/patients/Simple" in message
    assert "Secretname" not in message
