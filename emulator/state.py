"""In-memory state of one emulated provider: everything lives in Python objects guarded by one lock.

Nothing here knows about HTTP. The Google and Microsoft apps each own one ``ProviderState``; the
control API (``/__emulator__/``) mutates it, and the provider routes read and update it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from joserfc.jwk import RSAKey

MSA_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"

# Form and query fields whose values never reach the request log (only the fact that they were sent).
SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "code",
        "code_verifier",
        "refresh_token",
        "token",
        "access_token",
        "id_token",
        "client_assertion",
        "assertion",
        "password",
        "validationToken",
    }
)


def fingerprint(secret: str) -> str:
    """The short fingerprint the request log stores instead of a token: sha256 hex, first 16 chars."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def encode_opaque(payload: dict[str, Any]) -> str:
    """Page, sync, skip and delta tokens: opaque to clients, readable by the emulator."""
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_opaque(token: str) -> dict[str, Any] | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def parse_datetime(value: str, *, require_offset: bool) -> datetime | None:
    """RFC 3339 / ISO 8601. Without an offset: None when one is required, else UTC."""
    text = value.strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Graph sends 7 fractional digits; Python accepts at most 6.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        tail = ""
        for index, char in enumerate(rest):
            if not char.isdigit():
                tail = rest[index:]
                break
            digits += char
        text = head + ("." + digits[:6] if digits else "") + tail
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if require_offset:
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def isoformat_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Settings:
    """Behaviour switches, changed with ``POST /__emulator__/settings``."""

    # Both providers
    auto_approve: bool = False
    sync_token_horizon_seconds: int | None = None
    notify_on_change: bool = True
    calls_log_limit: int = 100_000  # past this, the older half of the request log is dropped
    # Google OAuth
    reject_scope_on_refresh: bool = False
    max_refresh_tokens_per_client: int = 100
    testing_mode_lifetime_seconds: int = 7 * 86400
    google_inactivity_seconds: int = 183 * 86400
    revoke_siblings: bool = False
    allow_prompt_list: bool = True
    refresh_token_expires_in: int | None = None
    code_error_description: str = "Bad Request"
    # Google Calendar
    empty_pages: bool = False
    gone_with_reason: bool = True
    google_error_details: bool = True
    channel_default_ttl_seconds: int = 7 * 86400
    send_sync_on_watch: bool = True
    # Microsoft identity
    strict_rotation: bool = False
    rotation_grace_seconds: int | None = None
    ms_refresh_lifetime_seconds: int = 90 * 86400
    # Microsoft Graph
    mail_null: bool = False
    graph_page_size: int = 10
    delta_duplicates: bool = False
    sync_reset_style: str = "gone"  # "gone" (410 + Location) or "syncStateNotFound" (400)
    subscription_max_minutes: int = 4230
    validation_timeout_seconds: float = 10.0

    def update(self, values: dict[str, Any]) -> list[str]:
        """Apply known keys; return the unknown ones (the caller refuses them)."""
        known = {f.name for f in fields(self)}
        unknown = [key for key in values if key not in known]
        if not unknown:
            for key, value in values.items():
                setattr(self, key, value)
        return unknown

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class User:
    email: str
    name: str
    sub: str
    tid: str = MSA_TENANT_ID
    oid: str = ""
    primary_calendar_id: str = ""
    time_zone: str = "UTC"


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    testing_mode: bool = False
    deleted: bool = False


@dataclass
class Calendar:
    id: str
    owner: str  # user email
    summary: str
    time_zone: str = "UTC"
    primary: bool = False
    access_role: str = "owner"


@dataclass
class Event:
    """One stored item: a single event, a recurring master, or one pre-expanded instance."""

    id: str
    calendar_id: str
    owner: str
    start: datetime
    end: datetime
    all_day: bool = False
    summary: str = ""
    description: str = ""
    location: str = ""
    attendees: list[dict[str, Any]] = field(default_factory=list)
    organizer: str = ""
    conference_data: dict[str, Any] | None = None
    hangout_link: str | None = None
    online_meeting_url: str | None = None
    online_meeting_provider: str | None = None
    is_online_meeting: bool = False
    ical_uid: str = ""
    recurrence: list[str] | None = None
    master_id: str | None = None
    kind: str = "single"  # single | master | instance
    cancelled: bool = False
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    changed_seq: int = 0
    # the previous window position, so a move out of a delta window still reports @removed
    previous_start: datetime | None = None
    previous_end: datetime | None = None


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user: str
    scopes: list[str]
    created_at: datetime
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    issue_refresh: bool
    tenant: str = ""
    used: bool = False


@dataclass
class RefreshToken:
    token: str
    user: str
    client_id: str
    scopes: list[str]
    issued_at: datetime
    expires_at: datetime | None = None  # Testing mode: fixed at issue time
    last_used_at: datetime | None = None
    revoked: bool = False
    reason: str = ""  # why it stopped working: revoked | evicted | superseded
    superseded_at: datetime | None = None
    family: str = ""


@dataclass
class AccessToken:
    token: str
    user: str
    client_id: str
    scopes: list[str]
    expires_at: datetime
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class Grant:
    user: str
    client_id: str
    scopes: list[str]


@dataclass
class Channel:
    """A Google push channel (events.watch)."""

    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    owner: str
    address: str
    token: str | None
    expiration: datetime
    message_number: int = 0
    stopped: bool = False


@dataclass
class Subscription:
    """A Microsoft Graph subscription."""

    id: str
    owner: str
    resource: str
    change_type: str
    notification_url: str
    lifecycle_notification_url: str | None
    client_state: str | None
    expiration: datetime
    client_id: str
    deleted: bool = False


@dataclass
class Failure:
    route: str
    times: int
    status: int | None
    body: Any
    headers: dict[str, str]
    latency_ms: int


class ProviderState:
    """Everything one emulated provider knows. Use ``with state.lock:`` around any read-modify-write."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.lock = threading.RLock()
        self.signing_key = RSAKey.generate_key(
            2048, parameters={"kid": new_token(nbytes=8), "use": "sig", "alg": "RS256"}
        )
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.settings = Settings()
            self.clock_offset = 0.0
            self.users: dict[str, User] = {}
            self.clients: dict[str, Client] = {}
            self.calendars: dict[str, Calendar] = {}
            self.events: dict[str, Event] = {}
            # The same events by calendar: listings look at one calendar's events, not at every
            # seeded event of every user (a scale test seeds hundreds of thousands).
            self.events_by_calendar: dict[str, dict[str, Event]] = {}
            self.codes: dict[str, AuthCode] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            # Google's per-(user, client) cap looks at one grant's tokens, not at every token issued.
            self.refresh_tokens_by_grant: dict[tuple[str, str], list[RefreshToken]] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.grants: dict[tuple[str, str], Grant] = {}
            self.channels: dict[str, Channel] = {}
            self.subscriptions: dict[str, Subscription] = {}
            self.failures: list[Failure] = []
            self.calls: list[dict[str, Any]] = []
            self.calls_total = 0
            self.deliveries: list[dict[str, Any]] = []
            self.seq = 0
            self.sync_epoch = 0

    # -- clock --------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.clock_offset, UTC)

    def advance(self, seconds: float) -> datetime:
        with self.lock:
            self.clock_offset += seconds
            return self.now()

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    # -- seeding ------------------------------------------------------------------------------
    def add_user(self, data: dict[str, Any]) -> User:
        email = str(data["email"])
        user = User(
            email=email,
            name=str(data.get("name") or email.split("@")[0]),
            sub=str(data.get("sub") or str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16))),
            tid=str(data.get("tid") or MSA_TENANT_ID),
            oid=str(data.get("oid") or _uuid_from(email)),
            primary_calendar_id=str(data.get("primary_calendar_id") or email),
            time_zone=str(data.get("time_zone") or "UTC"),
        )
        with self.lock:
            self.users[email] = user
            if user.primary_calendar_id not in self.calendars:
                self.calendars[user.primary_calendar_id] = Calendar(
                    id=user.primary_calendar_id,
                    owner=email,
                    summary=str(data.get("calendar_summary") or email),
                    time_zone=user.time_zone,
                    primary=True,
                )
        return user

    def add_client(self, data: dict[str, Any]) -> Client:
        client = Client(
            client_id=str(data["client_id"]),
            client_secret=str(data["client_secret"]),
            redirect_uris=[str(uri) for uri in data.get("redirect_uris", [])],
            testing_mode=bool(data.get("testing_mode", False)),
            deleted=bool(data.get("deleted", False)),
        )
        with self.lock:
            self.clients[client.client_id] = client
        return client

    def add_calendar(self, data: dict[str, Any]) -> Calendar:
        owner = str(data["user"])
        if owner not in self.users:
            raise ValueError(f"unknown user {owner!r}")
        calendar = Calendar(
            id=str(data.get("id") or new_token("c_", 12)),
            owner=owner,
            summary=str(data.get("summary") or "Calendar"),
            time_zone=str(data.get("time_zone") or "UTC"),
            primary=False,
            access_role=str(data.get("access_role") or "owner"),
        )
        with self.lock:
            self.calendars[calendar.id] = calendar
        return calendar

    def primary_calendar(self, email: str) -> Calendar:
        return self.calendars[self.users[email].primary_calendar_id]

    def add_event(self, data: dict[str, Any]) -> list[Event]:
        """Store an event (and its pre-expanded ``instances``); each one enters the change log."""
        with self.lock:
            owner = str(data.get("user") or "")
            calendar_id = str(data.get("calendar_id") or "")
            if not owner and calendar_id in self.calendars:
                owner = self.calendars[calendar_id].owner
            if owner not in self.users:
                raise ValueError(f"event needs a known 'user' (got {owner!r})")
            if not calendar_id:
                calendar_id = self.users[owner].primary_calendar_id
            if calendar_id not in self.calendars:
                raise ValueError(f"unknown calendar {calendar_id!r}")
            event_id = str(data.get("id") or new_token("ev", 9).replace("-", "").replace("_", "").lower())
            if event_id in self.events:
                raise ValueError(f"event {event_id!r} exists; use change-event")
            instances = data.get("instances") or []
            kind = "master" if instances or data.get("recurrence") else "single"
            if kind == "master" and instances:
                first = _parse_time(instances[0]["start"])
                last = _parse_time(instances[-1]["end"])
                start, end, all_day = first[0], last[0], first[1]
            else:
                start, all_day = _parse_time(data["start"])
                end, _ = _parse_time(data["end"])
            now = self.now()
            master = self._make_event(data, event_id, calendar_id, owner, start, end, all_day, kind, None, now)
            created = [master]
            for instance in instances:
                i_start, i_all_day = _parse_time(instance["start"])
                i_end, _ = _parse_time(instance["end"])
                suffix = i_start.strftime("%Y%m%d") if i_all_day else i_start.strftime("%Y%m%dT%H%M%SZ")
                merged = {**data, **instance}
                merged.pop("instances", None)
                instance_id = str(instance.get("id") or f"{event_id}_{suffix}")
                created.append(
                    self._make_event(
                        merged, instance_id, calendar_id, owner, i_start, i_end, i_all_day, "instance", event_id, now
                    )
                )
            for event in created:
                self.events[event.id] = event
                self.events_by_calendar.setdefault(event.calendar_id, {})[event.id] = event
            return created

    def calendar_events(self, calendar_id: str) -> list[Event]:
        """One calendar's events (a copy: safe to iterate while others change)."""
        with self.lock:
            return list(self.events_by_calendar.get(calendar_id, {}).values())

    def _make_event(
        self,
        data: dict[str, Any],
        event_id: str,
        calendar_id: str,
        owner: str,
        start: datetime,
        end: datetime,
        all_day: bool,
        kind: str,
        master_id: str | None,
        now: datetime,
    ) -> Event:
        event = Event(
            id=event_id,
            calendar_id=calendar_id,
            owner=owner,
            start=start,
            end=end,
            all_day=all_day,
            kind=kind,
            master_id=master_id,
            ical_uid=str(data.get("ical_uid") or f"{master_id or event_id}@emulator"),
            organizer=str(data.get("organizer") or owner),
            cancelled=bool(data.get("cancelled", False)),
            created=now,
            updated=now,
            changed_seq=self.next_seq(),
        )
        apply_event_fields(event, data)
        return event

    def change_event(self, event_id: str, changes: dict[str, Any]) -> list[Event]:
        """Edit or move an event; a master's instances follow a change of shared fields."""
        with self.lock:
            event = self.events.get(event_id)
            if event is None:
                raise KeyError(event_id)
            touched = [event]
            if "start" in changes or "end" in changes:
                event.previous_start, event.previous_end = event.start, event.end
                if "start" in changes:
                    event.start, event.all_day = _parse_time(changes["start"])
                if "end" in changes:
                    event.end, _ = _parse_time(changes["end"])
            apply_event_fields(event, changes)
            if event.kind == "master":
                shared = {k: v for k, v in changes.items() if k not in ("start", "end", "id")}
                for other in self.events.values():
                    if other.master_id == event.id:
                        apply_event_fields(other, shared)
                        touched.append(other)
            if "cancelled" in changes:
                event.cancelled = bool(changes["cancelled"])
            now = self.now()
            for item in touched:
                item.updated = now
                item.changed_seq = self.next_seq()
            return touched

    def cancel_event(self, event_id: str) -> list[Event]:
        with self.lock:
            event = self.events.get(event_id)
            if event is None:
                raise KeyError(event_id)
            touched = [event] + [e for e in self.events.values() if e.master_id == event.id]
            now = self.now()
            for item in touched:
                item.cancelled = True
                item.updated = now
                item.changed_seq = self.next_seq()
            return touched

    # -- tokens -------------------------------------------------------------------------------
    def revoke_user_grants(self, email: str, client_id: str | None = None) -> int:
        count = 0
        with self.lock:
            for token in self.refresh_tokens.values():
                if token.user == email and (client_id is None or token.client_id == client_id):
                    if not token.revoked:
                        count += 1
                    token.revoked, token.reason = True, "revoked"
            for access in self.access_tokens.values():
                if access.user == email and (client_id is None or access.client_id == client_id):
                    access.revoked = True
            for key in [k for k in self.grants if k[0] == email and (client_id is None or k[1] == client_id)]:
                del self.grants[key]
        return count

    def issue_access_token(
        self, user: str, client_id: str, scopes: list[str], lifetime: int, refresh_token: str | None, prefix: str
    ) -> AccessToken:
        token = AccessToken(
            token=new_token(prefix),
            user=user,
            client_id=client_id,
            scopes=list(scopes),
            expires_at=self.now() + timedelta(seconds=lifetime),
            refresh_token=refresh_token,
        )
        with self.lock:
            self.access_tokens[token.token] = token
        return token

    def valid_access_token(self, header: str | None) -> AccessToken | None:
        if not header or not header.lower().startswith("bearer "):
            return None
        with self.lock:
            token = self.access_tokens.get(header[7:].strip())
            if token is None or token.revoked or token.expires_at <= self.now():
                return None
            return token

    # -- control helpers ----------------------------------------------------------------------
    def take_failure(self, route: str) -> Failure | None:
        with self.lock:
            for failure in self.failures:
                if failure.route in (route, "*") and failure.times > 0:
                    failure.times -= 1
                    if failure.times == 0:
                        self.failures.remove(failure)
                    return failure
        return None


def apply_event_fields(event: Event, data: dict[str, Any]) -> None:
    """Copy the descriptive fields a seed or change carries onto an event."""
    if "summary" in data:
        event.summary = str(data["summary"] or "")
    if "description" in data:
        event.description = str(data["description"] or "")
    if "location" in data:
        event.location = str(data["location"] or "")
    if "attendees" in data:
        event.attendees = [dict(a) for a in data["attendees"] or []]
    if "organizer" in data:
        event.organizer = str(data["organizer"] or event.owner)
    if "conference_data" in data:
        event.conference_data = data["conference_data"]
    if "hangout_link" in data:
        event.hangout_link = data["hangout_link"]
    if "online_meeting_url" in data:
        event.online_meeting_url = data["online_meeting_url"]
        event.is_online_meeting = bool(data["online_meeting_url"])
    if "online_meeting_provider" in data:
        event.online_meeting_provider = data["online_meeting_provider"]
    if "is_online_meeting" in data:
        event.is_online_meeting = bool(data["is_online_meeting"])
    if "recurrence" in data:
        event.recurrence = list(data["recurrence"]) if data["recurrence"] else None


def _parse_time(value: Any) -> tuple[datetime, bool]:
    """A seed time: "YYYY-MM-DD" (all day), an RFC 3339 string, or Google's {"dateTime"} / {"date"}."""
    if isinstance(value, dict):
        value = value.get("dateTime") or value.get("date")
    text = str(value)
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    parsed = parse_datetime(text, require_offset=False)
    if parsed is None:
        raise ValueError(f"bad time {text!r}")
    return parsed, False


def _uuid_from(text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
