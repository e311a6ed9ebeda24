"""branding of a project's end-user pages

Revision ID: 0016_project_branding
Revises: 0015_access_token
Create Date: 2026-12-06 21:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_project_branding'
down_revision = '0015_access_token'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('logo_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('accent_color', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('support_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('privacy_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('terms_url', sa.String(length=2048), nullable=True))


def downgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('terms_url')
        batch_op.drop_column('privacy_url')
        batch_op.drop_column('support_url')
        batch_op.drop_column('accent_color')
        batch_op.drop_column('logo_url')
        batch_op.drop_column('display_name')
