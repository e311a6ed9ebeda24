"""Dashboard pages and actions: overview, calendars, one calendar, failures; membership checks."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import null as sa_null
from sqlalchemy import text as text_sql
from sqlalchemy import update as sa_update

from tests.dashboard.conftest import PASSWORD, calendar_row, disconnect, log_in, synced
from webapp.dashboard import accounts
from webapp.extensions import db, utcnow
from webapp.models import Calendar, CalendarEvent, ConnectSession, Project
from webapp.projects import service as projects


def base(project: Project) -> str:
    return f"/dashboard/projects/{project.object_id}"


def text(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    body: str = response.get_data(as_text=True)
    return body


def test_project_picker_lists_only_my_projects(dash: FlaskClient, project: Project) -> None:
    other, _ = projects.create_project(name="Someone Else")
    body = text(dash.get("/dashboard/"))
    assert "Acme" in body and project.object_id in body
    assert "Someone Else" not in body and other.object_id not in body


def test_overview_counts_stale_and_latest_failures(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    now = utcnow()
    fresh = make_calendar(deduplication_key="fresh")
    synced(fresh["id"], now - timedelta(hours=1))
    old = make_calendar(deduplication_key="old", platform="microsoft")
    synced(old["id"], now - timedelta(hours=30))
    broken = make_calendar(deduplication_key="broken")
    disconnect(broken["id"], "token_expired_testing_mode")
    body = text(dash.get(base(project) + "/"))
    assert re.search(r'id="count-connected">2<', body)
    assert re.search(r'id="count-disconnected">1<', body)
    assert re.search(r'id="count-stale">1<', body)
    assert "token_expired_testing_mode" in body and "Integrator (you)" in body
    assert "Testing" in body  # the warning about the Google app in Testing mode
    assert "<time datetime=" in body and 'title="' in body


def test_stale_threshold_is_a_setting(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    cal = make_calendar()
    synced(cal["id"], utcnow() - timedelta(hours=3))
    dash.application.config["DASHBOARD_STALE_HOURS"] = 2
    assert re.search(r'id="count-stale">1<', text(dash.get(base(project) + "/")))


def test_calendars_list_filters_and_search(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    a = make_calendar(deduplication_key="alpha-user", metadata={"tenant": "blue-team"})
    b = make_calendar(deduplication_key="beta-user", platform="microsoft", platform_uuid="cal-beta@example.com")
    c = make_calendar(deduplication_key="gamma-user", metadata={"tenant": "red"})
    disconnect(b["id"])
    synced(c["id"], utcnow() - timedelta(days=3))
    url = base(project) + "/calendars"

    def ids(query: str) -> set[str]:
        return set(re.findall(r"<code>(cal_\w+)</code>", text(dash.get(url + query)))) & {a["id"], b["id"], c["id"]}

    assert ids("") == {a["id"], b["id"], c["id"]}
    assert ids("?state=disconnected") == {b["id"]}
    assert ids("?state=connected&platform=google") == {a["id"], c["id"]}
    assert ids("?platform=microsoft") == {b["id"]}
    assert ids("?stale=1") == {c["id"]}
    assert ids("?q=alpha") == {a["id"]}
    assert ids("?q=CAL-BETA") == {b["id"]}  # platform_uuid, case-insensitive
    assert ids("?q=blue") == {a["id"]}  # a metadata value
    assert ids("?q=tenant") == set()  # keys are not searched
    assert ids("?q=%25") == set()  # LIKE wildcards are literal
    assert ids("?state=bogus&sort=bogus") == {a["id"], b["id"], c["id"]}


@pytest.mark.parametrize("stored", ["json-null", "sql-null", "scalar"])
def test_search_whatever_the_metadata_holds(
    dash: FlaskClient, project: Project, make_calendar: Any, stored: str
) -> None:
    """Metadata stored as JSON ``null``, SQL NULL or a scalar: a search that reaches it matches nothing
    there (PostgreSQL's ``json_each_text`` once failed on a scalar: a 500)."""
    plain = make_calendar(deduplication_key="plain-user", metadata={"team": "zzz-blue"})
    odd = make_calendar(deduplication_key="odd-user")
    value = {"json-null": text_sql("'null'"), "sql-null": None, "scalar": text_sql("'\"zzz\"'")}[stored]
    db.session.execute(
        sa_update(Calendar).where(Calendar.object_id == odd["id"]).values(meta=value)
        if value is not None
        else sa_update(Calendar).where(Calendar.object_id == odd["id"]).values(meta=sa_null())
    )
    db.session.commit()
    url = base(project) + "/calendars"
    for term, expected in (("zzz", {plain["id"]}), ("nothing-matches", set())):
        body = text(dash.get(url, query_string={"q": term}))
        assert set(re.findall(r"<code>(cal_\w+)</code>", body)) & {plain["id"], odd["id"]} == expected, term
    assert dash.get(url, query_string={"q": "a\x00b"}).status_code == 400  # webapp.guards


@pytest.mark.parametrize("sort", ["-created", "created", "-last_sync", "last_sync"])
def test_calendars_list_pages_through_every_calendar_once(
    dash: FlaskClient, project: Project, make_calendar: Any, sort: str
) -> None:
    now = utcnow()
    made = [make_calendar(deduplication_key=f"user-{i:02}") for i in range(27)]
    for i, cal in enumerate(made[:20]):
        synced(cal["id"], now - timedelta(minutes=i % 7))  # ties on purpose; 7 never synced
    seen: list[str] = []
    url: str | None = base(project) + f"/calendars?sort={sort}"
    pages = 0
    while url:
        body = text(dash.get(url))
        seen.extend(re.findall(r"<code>(cal_\w+)</code>", body))
        found = re.search(r'href="([^"]+)" rel="next"', body)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert pages == 2
    assert sorted(seen) == sorted(c["id"] for c in made)
    rows = {c.object_id: c for c in db.session.scalars(db.select(Calendar))}
    if sort.endswith("created"):
        order = sorted(seen, key=lambda i: rows[i].id, reverse=sort.startswith("-"))
        assert seen == order
    else:
        times = [rows[i].last_successful_sync_at for i in seen]
        never = [t is None for t in times]
        assert never == sorted(never, reverse=not sort.startswith("-"))
    # And back: the previous page of the second page is the first page.
    first = text(dash.get(base(project) + f"/calendars?sort={sort}"))
    nxt = re.search(r'href="([^"]+)" rel="next"', first)
    assert nxt is not None
    second = text(dash.get(nxt.group(1).replace("&amp;", "&")))
    prev = re.search(r'href="([^"]+)" rel="prev"', second)
    assert prev is not None
    again = text(dash.get(prev.group(1).replace("&amp;", "&")))
    assert re.findall(r"<code>(cal_\w+)</code>", again) == re.findall(r"<code>(cal_\w+)</code>", first)


def test_a_bad_cursor_shows_the_first_page(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    cal = make_calendar()
    assert cal["id"] in text(dash.get(base(project) + "/calendars?cursor=!!notacursor"))


def test_calendar_page_shows_fields_failure_history_and_events(
    dash: FlaskClient, project: Project, make_calendar: Any
) -> None:
    cal = make_calendar(metadata={"tenant_id": "T-42"})
    synced(cal["id"], utcnow() - timedelta(hours=2))
    row = disconnect(cal["id"], "token_revoked")
    start = utcnow() + timedelta(days=1)
    db.session.add(
        CalendarEvent(
            project_id=project.id,
            calendar_id=row.id,
            platform_uuid="evt-1",
            name="Design review",
            start_time=start,
            end_time=start + timedelta(hours=1),
            content_hash="x",
            meeting_url="https://meet.example.com/abc",
        )
    )
    db.session.commit()
    body = text(dash.get(f"{base(project)}/calendars/{cal['id']}"))
    for expected in (
        cal["id"],
        cal["client_id"],
        "user-abcd",
        "T-42",
        "Why it is disconnected",
        "The Google refresh token has been revoked",
        'id="who-must-act">End user<',
        "The end user must reconnect the calendar.",
        "Token has been expired or revoked.",  # the provider's error
        "token_revoked",
        "850 ms",
        "3 / 1 / 0",
        "Design review",
        "https://meet.example.com/abc",
        "last_attempted_sync_at",
    ):
        assert expected in body, expected
    assert "GOCSPX-secret-value" not in body and "1//04refresh-token-value" not in body


def test_sync_now(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    cal = make_calendar()
    row = calendar_row(cal["id"])
    row.next_sync_at = None
    db.session.commit()
    response = dash.post(f"{base(project)}/calendars/{cal['id']}/sync")
    assert response.status_code == 303
    assert calendar_row(cal["id"]).next_sync_at is not None
    assert "A sync was requested" in text(dash.get(response.headers["Location"]))


def test_reconnect_link_is_a_session_bound_to_the_calendar(
    dash: FlaskClient, project: Project, make_calendar: Any
) -> None:
    cal = make_calendar()
    disconnect(cal["id"])
    body = text(dash.post(f"{base(project)}/calendars/{cal['id']}/reconnect-link"))
    url = re.search(r'id="reconnect-url" type="text" readonly value="([^"]+)"', body)
    assert url is not None and "/connect/" in url.group(1)
    assert 'data-copy-target="reconnect-url"' in body and "js/dashboard.js" in body
    token = url.group(1).rsplit("/", 1)[1]
    connect = db.session.scalar(
        db.select(ConnectSession).where(ConnectSession.token_hash == ConnectSession.hash_token(token))
    )
    assert connect is not None and connect.calendar_id == calendar_row(cal["id"]).id


def test_delete_asks_for_confirmation_first(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    cal = make_calendar()
    page = text(dash.get(f"{base(project)}/calendars/{cal['id']}/delete"))
    assert "Delete this calendar?" in page
    assert db.session.scalar(db.select(Calendar).where(Calendar.object_id == cal["id"])) is not None
    response = dash.post(f"{base(project)}/calendars/{cal['id']}/delete")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalar(db.select(Calendar).where(Calendar.object_id == cal["id"])) is None
    assert "was deleted" in text(dash.get(response.headers["Location"]))


def test_failures_grouped_by_code_with_who_and_what(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    for i in range(3):
        disconnect(make_calendar(deduplication_key=f"t{i}")["id"], "token_expired_testing_mode")
    disconnect(make_calendar(deduplication_key="r")["id"], "token_revoked")
    make_calendar(deduplication_key="healthy")
    body = text(dash.get(base(project) + "/failures"))
    assert body.index("token_expired_testing_mode") < body.index("token_revoked")  # largest group first
    assert "3 calendars" in body and "1 calendar<" in body
    assert "publish the app" in body and "Integrator (you)" in body and "End user" in body


def test_bulk_sync_a_failure_group(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    group = [make_calendar(deduplication_key=f"g{i}")["id"] for i in range(2)]
    other = make_calendar(deduplication_key="other")["id"]
    for cal in group:
        disconnect(cal, "client_secret_invalid")
    disconnect(other, "token_revoked")
    for cal in (*group, other):
        calendar_row(cal).next_sync_at = None
    db.session.commit()
    response = dash.post(base(project) + "/failures/client_secret_invalid/sync")
    assert response.status_code == 303
    assert all(calendar_row(c).next_sync_at is not None for c in group)
    assert calendar_row(other).next_sync_at is None
    assert "requested for 2 calendars" in text(dash.get(response.headers["Location"]))
    assert dash.post(base(project) + "/failures/no_such_code/sync").status_code == 404


def test_export_reconnect_links_as_csv(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    group = [make_calendar(deduplication_key=f"=cmd{i}")["id"] for i in range(2)]
    for cal in group:
        disconnect(cal, "token_revoked")
    response = dash.post(base(project) + "/failures/token_revoked/reconnect-links.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert sorted(r["calendar_id"] for r in rows) == sorted(group)
    assert all("/connect/" in r["reconnect_url"] for r in rows)
    assert all(r["deduplication_key"].startswith("'=") for r in rows)  # no spreadsheet formulas
    assert db.session.scalar(db.select(db.func.count()).select_from(ConnectSession)) == 2


# --- membership ---------------------------------------------------------------------------------


@pytest.fixture
def foreign(app: Any) -> tuple[Project, str]:
    """Another project with one disconnected calendar; returns (project, calendar id)."""
    other, key = projects.create_project(name="Other Co")
    client = app.test_client()
    response = client.post(
        "/api/v1/calendars",
        json={"platform": "google", "client_id": "c", "client_secret": "s", "refresh_token": "r"},
        headers={"Authorization": f"Token {key}"},
    )
    cal_id = response.get_json()["id"]
    disconnect(cal_id)
    return other, cal_id


def test_another_projects_calendar_is_a_404(dash: FlaskClient, project: Project, foreign: tuple[Project, str]) -> None:
    _, cal_id = foreign
    mine = base(project)
    assert dash.get(f"{mine}/calendars/{cal_id}").status_code == 404
    for action in ("sync", "reconnect-link", "delete"):
        assert dash.post(f"{mine}/calendars/{cal_id}/{action}").status_code == 404
    assert dash.get(f"{mine}/calendars/{cal_id}/delete").status_code == 404
    assert cal_id not in text(dash.get(f"{mine}/calendars"))
    assert "No calendars match." in text(dash.get(f"{mine}/calendars?q={cal_id}"))
    assert "token_revoked" not in text(dash.get(f"{mine}/failures"))
    assert calendar_row(cal_id).state == "disconnected"  # nothing was deleted


def test_a_non_member_sees_nothing_of_a_project(client: FlaskClient, admin: Any, foreign: tuple[Project, str]) -> None:
    other, cal_id = foreign
    assert log_in(client).status_code == 302
    theirs = base(other)
    for path in ("/", "/calendars", f"/calendars/{cal_id}", "/failures", "/settings", f"/calendars/{cal_id}/delete"):
        response = client.get(theirs + path)
        assert response.status_code == 404, path
        assert cal_id not in response.get_data(as_text=True)
    for path in (
        f"/calendars/{cal_id}/sync",
        f"/calendars/{cal_id}/reconnect-link",
        f"/calendars/{cal_id}/delete",
        "/failures/token_revoked/sync",
        "/failures/token_revoked/reconnect-links.csv",
        "/settings/api-keys",
        "/settings/webhook-secret",
        "/settings/webhook-secret/rotate",
        "/settings/origins",
    ):
        assert client.post(theirs + path).status_code == 404, path
    assert calendar_row(cal_id).state == "disconnected"
    assert db.session.scalar(db.select(db.func.count()).select_from(ConnectSession)) == 0
    # Made a member, the same admin sees it.
    accounts.add_to_project(email="admin@example.com", project_id=other.object_id)
    assert cal_id in text(client.get(theirs + "/calendars"))
    assert PASSWORD  # the fixture's admin


# --- wording (issue 18) ---------------------------------------------------------------------------


def test_failures_page_names_the_platform_and_starts_sentences_with_a_capital(
    dash: FlaskClient, project: Project, make_calendar: Any
) -> None:
    disconnect(make_calendar(deduplication_key="m")["id"], "client_misconfigured")
    disconnect(make_calendar(deduplication_key="s", platform="microsoft")["id"], "client_secret_invalid")
    disconnect(make_calendar(deduplication_key="s2")["id"], "client_secret_invalid")
    body = text(dash.get(base(project) + "/failures"))
    assert "the provider" not in body.lower()
    assert "The project&#39;s Google OAuth app is misconfigured" in body
    assert "Google rejected the project&#39;s OAuth client credentials" in body
    assert "Microsoft rejected the project&#39;s OAuth client credentials" in body
    for paragraph in re.findall(r"<dd>(?:<p[^>]*>)?([^<]+)", body):
        assert paragraph[:1] == paragraph[:1].upper(), paragraph


def test_explanations_without_a_platform_still_start_with_a_capital() -> None:
    from webapp.dashboard.presenters import explain

    why = explain("client_secret_invalid")
    assert why.what_happened.startswith("The provider rejected")
    assert explain("client_misconfigured").what_happened.startswith("The project's provider OAuth app")


def test_reconnect_links_are_offered_only_where_the_end_user_must_reconnect(
    dash: FlaskClient, project: Project, make_calendar: Any
) -> None:
    disconnect(make_calendar(deduplication_key="r")["id"], "token_revoked")
    disconnect(make_calendar(deduplication_key="c")["id"], "client_secret_invalid")
    body = text(dash.get(base(project) + "/failures"))
    revoked = body.split('id="group-token_revoked"')[1].split("</section>")[0]
    secret = body.split('id="group-client_secret_invalid"')[1].split("</section>")[0]
    assert "Export reconnect links (CSV)" in revoked
    assert "Export reconnect links (CSV)" not in secret and "Sync again" in secret


def test_calendar_page_says_what_happened_once(dash: FlaskClient, project: Project, make_calendar: Any) -> None:
    cal = make_calendar()
    disconnect(cal["id"], "token_revoked")
    body = text(dash.get(f"{base(project)}/calendars/{cal['id']}"))
    assert body.count("What happened") == 1
    why = body.split('id="failure-title"')[1].split("</section>")[0]
    assert why.count("The Google refresh token has been revoked") == 1
    assert 'id="failure-detail"' not in body


def test_calendar_page_shows_the_detail_the_explanation_lacks(
    dash: FlaskClient, project: Project, make_calendar: Any
) -> None:
    cal = make_calendar()
    row = disconnect(cal["id"], "network_error")
    row.connection_failure_data = {
        **row.connection_failure_data,
        "error": row.connection_failure_data["error"] + " (ConnectTimeout)",
    }
    db.session.commit()
    body = text(dash.get(f"{base(project)}/calendars/{cal['id']}"))
    assert re.search(r'id="failure-detail">\(ConnectTimeout\)<', body)


def test_latest_failures_beside_a_connected_calendar_are_marked_resolved(
    dash: FlaskClient, project: Project, make_calendar: Any
) -> None:
    now = utcnow()
    healed = make_calendar(deduplication_key="healed")
    disconnect(healed["id"], "rate_limited", at=now - timedelta(hours=2))
    row = calendar_row(healed["id"])
    row.state = "connected"
    row.connection_failure_data = None
    db.session.commit()
    synced(healed["id"], now - timedelta(hours=1))
    broken = make_calendar(deduplication_key="broken")
    disconnect(broken["id"], "token_revoked", at=now - timedelta(minutes=5))
    body = text(dash.get(base(project) + "/"))
    rows = body.split("Latest failures")[1].split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    by_key = {("healed" if "healed" in r else "broken"): r for r in rows}
    assert 'class="resolved"' in by_key["healed"] and ">resolved<" in by_key["healed"]
    assert ">resolved<" not in by_key["broken"]
