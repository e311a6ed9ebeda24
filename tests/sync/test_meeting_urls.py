"""Meeting URL extraction from realistic Google Calendar and Microsoft Graph event payloads."""

from __future__ import annotations

from typing import Any

import pytest

from webapp.sync.meeting_urls import extract_meeting_url, google_meeting_url, microsoft_meeting_url

MEET = "https://meet.google.com/abc-defg-hij"
ZOOM = "https://us02web.zoom.us/j/81234567890?pwd=aBcDeFgHiJkLmNoPqRsTuVwXyZ.1"
TEAMS = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ0ZTNiMTAtZTRlMS00ZWQ1LWJiNDUtNWJkNjUzODdiOTQ2"
    "%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a"
    "%22a1b2c3d4-0000-1111-2222-333344445555%22%7d"
)


def google_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "kind": "calendar#event",
        "etag": '"3181161784712000"',
        "id": "4ar1n7f0b5v3q8hc2a9j0k7l6m",
        "status": "confirmed",
        "htmlLink": "https://www.google.com/calendar/event?eid=NGFyMW43ZjBiNXYzcThoYzJhOWowazdsNm0",
        "created": "2025-07-01T09:00:00.000Z",
        "updated": "2025-07-01T09:00:00.000Z",
        "summary": "Weekly sync",
        "creator": {"email": "alice@example.com", "self": True},
        "organizer": {"email": "alice@example.com", "self": True},
        "start": {"dateTime": "2025-07-15T10:00:00+02:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2025-07-15T10:30:00+02:00", "timeZone": "Europe/Berlin"},
        "iCalUID": "4ar1n7f0b5v3q8hc2a9j0k7l6m@google.com",
        "sequence": 0,
        "attendees": [{"email": "bob@example.com", "responseStatus": "needsAction"}],
        "eventType": "default",
    }
    event.update(fields)
    return event


MEET_CONFERENCE = {
    "entryPoints": [
        {"entryPointType": "video", "uri": MEET, "label": "meet.google.com/abc-defg-hij"},
        {"entryPointType": "more", "uri": "https://tel.meet/abc-defg-hij?pin=1234567890123", "pin": "1234567890123"},
        {"entryPointType": "phone", "uri": "tel:+1-555-010-0199", "label": "+1 555-010-0199", "pin": "123456789"},
    ],
    "conferenceSolution": {
        "key": {"type": "hangoutsMeet"},
        "name": "Google Meet",
        "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
    },
    "conferenceId": "abc-defg-hij",
}

ZOOM_ADDON_CONFERENCE = {
    "entryPoints": [
        {
            "entryPointType": "video",
            "uri": ZOOM,
            "label": "us02web.zoom.us/j/81234567890?pwd=…",
            "meetingCode": "81234567890",
        },
        {"entryPointType": "phone", "uri": "tel:+16465588656,,81234567890#", "label": "+1 646-558-8656"},
    ],
    "conferenceSolution": {"key": {"type": "addOn"}, "name": "Zoom Meeting"},
    "conferenceId": "81234567890",
}


def graph_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "@odata.etag": 'W/"ZlnW4RIAV06KYYwlrfNZvQAAKGWwbw=="',
        "id": "AAMkAGIAAAoZDOFAAA=",
        "subject": "Project review",
        "bodyPreview": "",
        "body": {"contentType": "html", "content": "<html><body><p>Agenda to follow.</p></body></html>"},
        "start": {"dateTime": "2025-07-15T08:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-07-15T08:30:00.0000000", "timeZone": "UTC"},
        "location": {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"},
        "locations": [],
        "isOnlineMeeting": False,
        "onlineMeetingProvider": "unknown",
        "onlineMeetingUrl": None,
        "onlineMeeting": None,
        "isCancelled": False,
        "iCalUId": "040000008200E00074C5B7101A82E00800000000",
        "webLink": "https://outlook.office365.com/owa/?itemid=AAMkAGIAAAoZDOFAAA%3D&exvsurl=1&path=/calendar/item",
        "organizer": {"emailAddress": {"name": "Alice", "address": "alice@contoso.com"}},
        "attendees": [],
    }
    event.update(fields)
    return event


TEAMS_HTML_BODY = (
    '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>\r\n<body>\r\n'
    '<div style="width:100%"><span style="white-space:nowrap;color:#5F5F5F;opacity:.36">'
    "________________________________________________________________________________</span></div>\r\n"
    '<div class="me-email-text" lang="en-US" style="color:#242424;font-family:\'Segoe UI\',sans-serif">\r\n'
    '<div style="margin-bottom:24px;overflow:hidden;white-space:nowrap">'
    '<span class="me-email-text" style="font-size:24px;font-weight:700">Microsoft Teams</span> '
    '<span class="me-email-text" style="font-size:14px;font-weight:700">Need help?</span></div>\r\n'
    '<div style="margin-bottom:6px"><a href="' + TEAMS + '" class="me-email-headline" target="_blank" '
    'rel="noreferrer noopener" style="font-size:20px;font-weight:700;text-decoration:underline;color:#5b5fc7">'
    "Join the meeting now</a></div>\r\n"
    '<div style="margin-bottom:6px"><span class="me-email-text-secondary">Meeting ID: </span>'
    '<span class="me-email-text">245 123 456 789</span></div>\r\n'
    "</div>\r\n</body>\r\n</html>\r\n"
)


# --- Google -------------------------------------------------------------------------------------


def test_google_meet_from_conference_data() -> None:
    event = google_event(hangoutLink=MEET, conferenceData=MEET_CONFERENCE)
    assert google_meeting_url(event) == MEET


@pytest.mark.parametrize(
    "uri",
    [
        "https://meet.google.com/abc-def-ghi",  # not shaped 3-4-3, yet Google's own entry
        "https://meet.google.com/lookup/abcdefghij",
        "https://example.webex.com/meet/j.doe",
    ],
)
def test_google_conference_video_entry_is_taken_as_given(uri: str) -> None:
    conference = {
        "entryPoints": [{"entryPointType": "phone", "uri": "tel:+1-555-0100"}, {"entryPointType": "video", "uri": uri}]
    }
    event = google_event(conferenceData=conference, description=f"Or {MEET}")
    assert google_meeting_url(event) == uri


def test_text_keeps_the_strict_patterns() -> None:
    assert google_meeting_url(google_event(location="https://meet.google.com/abc-def-ghi")) is None
    assert microsoft_meeting_url(graph_event(body={"contentType": "text", "content": "https://example.com/x"})) is None


def test_a_conference_entry_that_is_not_an_http_url_is_ignored() -> None:
    conference = {"entryPoints": [{"entryPointType": "video", "uri": "javascript:alert(1)"}]}
    assert google_meeting_url(google_event(conferenceData=conference, hangoutLink=MEET)) == MEET
    assert microsoft_meeting_url(graph_event(onlineMeeting={"joinUrl": "not a url"}, onlineMeetingUrl=TEAMS)) == TEAMS


def test_microsoft_join_url_is_taken_as_given() -> None:
    odd = "https://teams.microsoft.com/meet/2981234567?p=abc"
    assert microsoft_meeting_url(graph_event(onlineMeeting={"joinUrl": odd}, location={"displayName": ZOOM})) == odd
    custom = "https://contoso.example/join/42"
    assert microsoft_meeting_url(graph_event(onlineMeeting={"joinUrl": custom})) == custom


def test_google_zoom_addon_entry_point_beats_hangout_link_and_text() -> None:
    event = google_event(
        conferenceData=ZOOM_ADDON_CONFERENCE,
        hangoutLink=MEET,
        description="Backup: https://teams.live.com/meet/9876543210123?p=AbCdEfGh",
    )
    assert google_meeting_url(event) == ZOOM


def test_google_hangout_link_beats_free_text() -> None:
    event = google_event(hangoutLink=MEET, location="https://zoom.us/j/123456789", description=f"Or {TEAMS}")
    assert google_meeting_url(event) == MEET


def test_google_location_beats_description_and_summary() -> None:
    event = google_event(
        location="https://agency.zoomgov.com/j/1601234567?pwd=Z3ZSTkRzRFNu",
        description="Dial in: https://meet.google.com/xyz-abcd-efg",
        summary="Sync https://zoom.us/my/jane.doe",
    )
    assert google_meeting_url(event) == "https://agency.zoomgov.com/j/1601234567?pwd=Z3ZSTkRzRFNu"


def test_google_html_description_with_escaped_ampersands() -> None:
    link = "https://us02web.zoom.us/j/81234567890?pwd=abc123&amp;from=addon"
    description = (
        "──────────<br>Alice is inviting you to a scheduled Zoom meeting.<br><br>"
        f'Join Zoom Meeting<br><a href="{link}" target="_blank">{link}</a><br><br>'
        "Meeting ID: 812 3456 7890<br>Passcode: 123456<br>──────────"
    )
    event = google_event(location="Room 4.01 (Berlin)", description=description)
    assert google_meeting_url(event) == "https://us02web.zoom.us/j/81234567890?pwd=abc123&from=addon"


def test_google_redirect_wrapped_link_is_unwrapped() -> None:
    description = (
        '<a href="https://www.google.com/url?q=https://zoom.us/j/123456789?pwd%3DQWERTY&amp;sa=D'
        '&amp;source=calendar&amp;ust=1752570000000000&amp;usg=AOvVaw0abc">Join</a>'
    )
    assert google_meeting_url(google_event(description=description)) == "https://zoom.us/j/123456789?pwd=QWERTY"


def test_google_summary_with_trailing_punctuation() -> None:
    event = google_event(summary="Quick call (https://meet.google.com/xyz-abcd-efg).")
    assert google_meeting_url(event) == "https://meet.google.com/xyz-abcd-efg"


def test_google_non_meeting_links_are_ignored() -> None:
    event = google_event(
        location="https://maps.google.com/?q=Alexanderplatz",
        description='Docs: <a href="https://docs.google.com/document/d/1abc/edit">agenda</a>',
    )
    assert google_meeting_url(event) is None


def test_google_minimal_and_odd_payloads() -> None:
    assert google_meeting_url({}) is None
    assert google_meeting_url({"conferenceData": {"entryPoints": "oops"}, "summary": None}) is None
    assert google_meeting_url({"conferenceData": {"entryPoints": [{"entryPointType": "video"}]}}) is None


# --- Microsoft ----------------------------------------------------------------------------------


def test_microsoft_teams_join_url() -> None:
    event = graph_event(
        isOnlineMeeting=True,
        onlineMeetingProvider="teamsForBusiness",
        onlineMeeting={"joinUrl": TEAMS, "conferenceId": "245123456", "tollNumber": "+1 555-010-0199"},
        location={"displayName": "Microsoft Teams Meeting", "locationType": "default"},
        body={"contentType": "html", "content": TEAMS_HTML_BODY},
    )
    assert microsoft_meeting_url(event) == TEAMS


def test_microsoft_teams_link_found_in_html_body() -> None:
    event = graph_event(
        location={"displayName": "Microsoft Teams Meeting", "locationType": "default"},
        body={"contentType": "html", "content": TEAMS_HTML_BODY},
    )
    assert microsoft_meeting_url(event) == TEAMS


def test_microsoft_online_meeting_url_field() -> None:
    event = graph_event(onlineMeetingUrl="https://teams.microsoft.com/meet/2345678901234?p=abcdEFGH")
    assert microsoft_meeting_url(event) == "https://teams.microsoft.com/meet/2345678901234?p=abcdEFGH"


def test_microsoft_location_beats_body_and_subject() -> None:
    event = graph_event(
        location={"displayName": "https://zoom.us/s/98765432101", "locationType": "default"},
        body={"contentType": "html", "content": f'<a href="{MEET}">Meet</a>'},
        subject="Join https://zoom.us/w/99887766554?tk=abc",
    )
    assert microsoft_meeting_url(event) == "https://zoom.us/s/98765432101"


def test_microsoft_safelinks_zoom_in_html_body() -> None:
    href = (
        "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fus06web.zoom.us%2Fj%2F87654321098"
        "%3Fpwd%3DxYz123&amp;data=05%7C02%7Calice%40contoso.com%7C0f1e2d3c%7C72f988bf%7C0%7C0%7C638000000000000000"
        "&amp;sdata=AbCdEf%3D&amp;reserved=0"
    )
    event = graph_event(
        body={"contentType": "html", "content": f'<p>Join Zoom Meeting<br><a href="{href}">{href}</a></p>'}
    )
    assert microsoft_meeting_url(event) == "https://us06web.zoom.us/j/87654321098?pwd=xYz123"


def test_microsoft_personal_teams_link_in_text_body() -> None:
    content = (
        "Microsoft Teams meeting\r\nJoin: https://teams.live.com/meet/9876543210123?p=AbCdEfGh\r\n"
        "Meeting ID: 987 654 321 012 3"
    )
    event = graph_event(body={"contentType": "text", "content": content})
    assert microsoft_meeting_url(event) == "https://teams.live.com/meet/9876543210123?p=AbCdEfGh"


def test_microsoft_subject_personal_zoom_room() -> None:
    event = graph_event(subject="Coffee chat: https://zoom.us/my/jane.doe.")
    assert microsoft_meeting_url(event) == "https://zoom.us/my/jane.doe"


def test_microsoft_no_meeting() -> None:
    assert microsoft_meeting_url(graph_event()) is None
    assert microsoft_meeting_url({}) is None
    assert microsoft_meeting_url({"onlineMeeting": {"joinUrl": None}, "location": None, "body": "x"}) is None


# --- extract_meeting_url --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(https://meet.google.com/abc-defg-hij)", MEET),
        ("<https://meet.google.com/abc-defg-hij>", MEET),
        ('"https://zoom.us/j/123456789",', "https://zoom.us/j/123456789"),
        ("Join at https://zoom.us/j/123456789.", "https://zoom.us/j/123456789"),
        ("'https://zoom.us/j/123456789?pwd=abc'", "https://zoom.us/j/123456789?pwd=abc"),
        (
            "https://meet.google.com/abc-defg-hij?authuser=0&hs=122",
            "https://meet.google.com/abc-defg-hij?authuser=0&hs=122",
        ),
        ("HTTPS://US02WEB.ZOOM.US/j/81234567890", "HTTPS://US02WEB.ZOOM.US/j/81234567890"),
        (
            "https://gov.teams.microsoft.us/l/meetup-join/19%3ameeting_x%40thread.v2/0",
            "https://gov.teams.microsoft.us/l/meetup-join/19%3ameeting_x%40thread.v2/0",
        ),
        ("first https://zoom.us/j/111111111 then https://meet.google.com/abc-defg-hij", "https://zoom.us/j/111111111"),
        ("https://meet.google.com/abcd-efg-hij", None),
        ("https://meet.google.com/abc-defg-hijk", None),
        ("https://zoom.us/signin", None),
        ("https://evil-zoom.us/j/123456789", None),
        ("https://zoom.us.example.com/j/123456789", None),
        ("https://example.com/?next=zoom.us/j/123", None),
        ("http://zoom.us/j/123456789", None),
        ("", None),
    ],
)
def test_extract_meeting_url(text: str, expected: str | None) -> None:
    assert extract_meeting_url(text) == expected


def test_extract_meeting_url_tries_sources_in_order() -> None:
    assert extract_meeting_url(None, "", "no link here", MEET, "https://zoom.us/j/123456789") == MEET
    assert extract_meeting_url() is None
