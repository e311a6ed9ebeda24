"""requested syncs are dispatched from the database

Revision ID: 0008_sync_dispatch
Revises: 0007_event_api_json
Create Date: 2026-12-01 06:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_sync_dispatch'
down_revision = '0007_event_api_json'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sync_dispatched_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            'ix_calendar_sync_requested_at',
            ['sync_requested_at'],
            unique=False,
            postgresql_where=sa.text('sync_requested_at IS NOT NULL'),
            sqlite_where=sa.text('sync_requested_at IS NOT NULL'),
        )


def downgrade():
    with op.batch_alter_table('calendar', schema=None) as batch_op:
        batch_op.drop_index('ix_calendar_sync_requested_at')
        batch_op.drop_column('sync_dispatched_at')
