"""one scheduler at a time: a lease row per service singleton

Revision ID: 0010_service_lease
Revises: 0009_event_calendar_orderings
Create Date: 2026-12-06 19:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_service_lease'
down_revision = '0009_event_calendar_orderings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'service_lease',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=255), nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('renewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_service_lease')),
    )


def downgrade():
    op.drop_table('service_lease')
