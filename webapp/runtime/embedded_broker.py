"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file under ``instance/``.

Used when ``CELERY_BROKER_URL`` is empty, so that one machine needs no Redis. Chosen by the broker
torture test (``tests/faults/test_broker_torture.py``): kombu's ``filesystem://`` transport loses
messages and crashes the worker under concurrent producers (it creates a message file and writes
it afterwards, so a consumer can read it empty), while SQLite's locking makes each put and get
atomic. Small changes to kombu's class:

- a message is deleted when it is taken, instead of being kept forever with ``visible = false``
  (kombu's virtual transports keep unacknowledged messages in the consumer's memory, never in the
  table, so the hidden rows served nothing and the file grew by one row per task);
- the engine waits for SQLite's lock (30 s) instead of failing after 5, runs in WAL mode (readers
  and the writer do not block each other), and ``polling_interval`` stays a transport option
  instead of being passed on to ``create_engine``;
- processes that start together on a new file race to create its tables and queue rows: the loser
  looks again instead of failing.

Limits, as for every kombu virtual transport: a message taken by a worker that is then SIGKILLed
is gone with it. The service never relies on a message alone: every sync request, delivery and
periodic job is recorded in the database first and dispatched again from there (see
``webapp.sync.dispatch`` and ``webapp.webhooks.delivery``). No fanout, so Celery's remote control
commands (``celery inspect``) are unavailable on it.
"""

from __future__ import annotations

from json import loads
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqlalchemy
from sqlalchemy import create_engine, delete, event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

# Options that belong to the transport, not to ``create_engine``.
_TRANSPORT_ONLY = ("queue_tablename", "message_tablename", "polling_interval")


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # a process crash loses nothing; only a power cut could
    cursor.close()


class Channel(kombu_sqlalchemy.Channel):
    def _engine_from_config(self) -> Engine:
        conninfo = self.connection.client
        options = {k: v for k, v in conninfo.transport_options.items() if k not in _TRANSPORT_ONLY}
        for retry_option in ("callback", "errback", "max_retries", "interval_start", "interval_step",
                             "interval_max", "retry_errors"):  # fmt: skip
            options.pop(retry_option, None)
        options.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(conninfo.hostname, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    def _open(self) -> Any:
        """Kombu's ``_open`` creates the tables; processes starting together on a new file race to
        create them, and the loser's ``CREATE TABLE`` fails: the tables exist then, so try again."""
        for attempt in range(3):
            try:
                return super()._open()  # type: ignore[no-untyped-call]
            except OperationalError as exc:
                if "already exists" not in str(exc) or attempt == 2:
                    raise
                self._engines.pop(self.connection.client.hostname, None)
        raise AssertionError("unreachable")

    def _get_or_create(self, queue: str) -> Any:
        """Likewise for a queue's row: the loser of a race to insert it finds it on a second look."""
        try:
            return super()._get_or_create(queue)  # type: ignore[no-untyped-call]
        except IntegrityError:
            self.session.rollback()
            return super()._get_or_create(queue)  # type: ignore[no-untyped-call]

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """Take the oldest message of *queue* and delete it, in one immediate (write-locked) transaction."""
        queue_id = self._get_or_create(queue).id
        message = self.message_cls
        session = self.session
        try:
            session.execute(text("BEGIN IMMEDIATE"))
            row = session.execute(
                select(message.id, message.payload).where(message.queue_id == queue_id).order_by(message.id).limit(1)
            ).first()
            if row is None:
                raise Empty()
            session.execute(delete(message).where(message.id == row.id))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return loads(row.payload)


class Transport(kombu_sqlalchemy.Transport):
    Channel = Channel
