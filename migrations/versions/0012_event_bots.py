"""stored event documents carry Attendee's "bots": [] (before "created_at", as in the contract)

Revision ID: 0012_event_bots
Revises: 0011_heartbeats
Create Date: 2026-12-06 18:40:00

The API serves events from their stored JSON text (calendar_event.api_json), so the documents
written before this revision are given the new key here. "created_at" and "updated_at" are the
document's last two keys, so the last '"created_at":' in the text is the top-level one (the
provider payload in "raw" comes before it).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_event_bots'
down_revision = '0011_heartbeats'
branch_labels = None
depends_on = None

_EVENTS = sa.table('calendar_event', sa.column('id', sa.Integer), sa.column('api_json', sa.Text))
_BATCH = 1000


def _rewrite(change):
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(_EVENTS.c.id, _EVENTS.c.api_json)
            .where(_EVENTS.c.id > last_id, _EVENTS.c.api_json.is_not(None))
            .order_by(_EVENTS.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for row_id, text in rows:
            new_text = change(text)
            if new_text != text:
                connection.execute(_EVENTS.update().where(_EVENTS.c.id == row_id).values(api_json=new_text))
        last_id = rows[-1][0]


def _add_bots(text):
    head, sep, tail = text.rpartition(',"created_at":')
    if not sep or head.endswith(',"bots":[]'):
        return text
    return head + ',"bots":[]' + sep + tail


def _remove_bots(text):
    head, sep, tail = text.rpartition(',"created_at":')
    if sep and head.endswith(',"bots":[]'):
        return head[: -len(',"bots":[]')] + sep + tail
    return text


def upgrade():
    _rewrite(_add_bots)


def downgrade():
    _rewrite(_remove_bots)
