"""sales digest log

Revision ID: 65fe56cd217f
Revises: 576f6b7c7a73
Create Date: 2026-11-25 14:12:21.767374

(Product tables only: since 2026-12 these changes are part of the product's own baseline,
renewal_reminder/migrations/versions/rr0001_baseline.py. The revision stays, empty, so that
databases already at it keep a known place in this chain.)
"""


# revision identifiers, used by Alembic.
revision = '65fe56cd217f'
down_revision = '576f6b7c7a73'
branch_labels = None
depends_on = None

def upgrade():
    pass


def downgrade():
    pass
