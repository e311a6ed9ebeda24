"""connect sessions remember the end user's language

Revision ID: 0017_connect_session_locale
Revises: 0016_project_branding
Create Date: 2026-12-06 21:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_connect_session_locale'
down_revision = '0016_project_branding'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('connect_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('connect_session', schema=None) as batch_op:
        batch_op.drop_column('locale')
