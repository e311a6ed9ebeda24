"""every events-list ordering has a per-calendar index (end_time and created_at had none)

Revision ID: 0009_event_calendar_orderings
Revises: 0008_sync_dispatch
Create Date: 2026-12-01 10:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009_event_calendar_orderings'
down_revision = '0008_sync_dispatch'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar_event', schema=None) as batch_op:
        batch_op.create_index('ix_calendar_event_calendar_end', ['calendar_id', 'end_time', 'id'], unique=False)
        batch_op.create_index('ix_calendar_event_calendar_created', ['calendar_id', 'created_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('calendar_event', schema=None) as batch_op:
        batch_op.drop_index('ix_calendar_event_calendar_created')
        batch_op.drop_index('ix_calendar_event_calendar_end')
