"""access tokens reused while valid, stored encrypted

Revision ID: 0015_access_token
Revises: 0014_next_sync_at
Create Date: 2026-12-06 19:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_access_token'
down_revision = '0014_next_sync_at'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_token_ciphertext', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('access_token_expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('calendar', schema=None) as batch_op:
        batch_op.drop_column('access_token_expires_at')
        batch_op.drop_column('access_token_ciphertext')
