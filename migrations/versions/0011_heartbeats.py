"""heartbeats of the worker and the beat scheduler (readiness, metrics, the dashboard banner)

Revision ID: 0011_heartbeats
Revises: 0010_service_lease
Create Date: 2026-12-06 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_heartbeats'
down_revision = '0010_service_lease'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'heartbeat',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('instance_id', sa.String(length=255), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'instance_id', name=op.f('pk_heartbeat')),
    )


def downgrade():
    op.drop_table('heartbeat')
