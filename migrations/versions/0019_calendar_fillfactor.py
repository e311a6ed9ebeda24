"""calendar rows updated in place: fillfactor and a closer autovacuum (PostgreSQL)

Every sync updates its calendar's row two or three times (the claim, the lease, the result). An
update that changes no indexed column can stay on the row's page (a HOT update: no new index
entries, and the old version is pruned without a vacuum) only if the page has room: at the
default fillfactor of 100 pages are full, and bench/scale.py saw 21 % of updates in place. A
fillfactor of 70 leaves that room. Autovacuum then runs on the table after 5 % of its rows changed
(20 % by default) so that the table stays close to its live size.

Revision ID: 0019_calendar_fillfactor
Revises: 0017_connect_session_locale
Create Date: 2026-12-06 22:15:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_calendar_fillfactor'
down_revision = '0017_connect_session_locale'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE calendar SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE calendar RESET (fillfactor, autovacuum_vacuum_scale_factor)")
