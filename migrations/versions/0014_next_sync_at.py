"""one scheduler for every sync: next_sync_at replaces sync_requested_at and the interval sweep

Revision ID: 0014_next_sync_at
Revises: 0012_event_bots
Create Date: 2026-12-06 19:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_next_sync_at'
down_revision = '0012_event_bots'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_sync_at', sa.DateTime(timezone=True), nullable=True))
    # A pending request stays due when it was; every other connected calendar is due now (the
    # interval is a setting, unknown here): after the upgrade each is synced once, then every interval.
    op.execute(
        "UPDATE calendar SET next_sync_at = COALESCE(sync_requested_at, last_attempted_sync_at, created_at) "
        "WHERE state = 'connected' OR sync_requested_at IS NOT NULL"
    )
    with op.batch_alter_table('calendar', schema=None) as batch_op:
        batch_op.drop_index('ix_calendar_sync_requested_at')
        batch_op.drop_column('sync_requested_at')
        batch_op.create_index(
            'ix_calendar_next_sync_at',
            ['next_sync_at'],
            unique=False,
            postgresql_where=sa.text('next_sync_at IS NOT NULL'),
            sqlite_where=sa.text('next_sync_at IS NOT NULL'),
        )
        batch_op.create_index(
            'ix_calendar_sync_dispatched_at',
            ['sync_dispatched_at'],
            unique=False,
            postgresql_where=sa.text('sync_dispatched_at IS NOT NULL'),
            sqlite_where=sa.text('sync_dispatched_at IS NOT NULL'),
        )


def downgrade():
    with op.batch_alter_table('calendar', schema=None) as batch_op:
        batch_op.drop_index('ix_calendar_sync_dispatched_at')
        batch_op.drop_index('ix_calendar_next_sync_at')
        batch_op.add_column(sa.Column('sync_requested_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE calendar SET sync_requested_at = next_sync_at WHERE next_sync_at <= CURRENT_TIMESTAMP")
    with op.batch_alter_table('calendar', schema=None) as batch_op:
        batch_op.drop_column('next_sync_at')
        batch_op.create_index(
            'ix_calendar_sync_requested_at',
            ['sync_requested_at'],
            unique=False,
            postgresql_where=sa.text('sync_requested_at IS NOT NULL'),
            sqlite_where=sa.text('sync_requested_at IS NOT NULL'),
        )
