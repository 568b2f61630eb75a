"""reminder log, email templates and job runs

Revision ID: bdaa198386db
Revises: 715640718ca8
Create Date: 2026-11-25 13:26:50.757727

(Product tables only: since 2026-12 these changes are part of the product's own baseline,
renewal_reminder/migrations/versions/rr0001_baseline.py. The revision stays, empty, so that
databases already at it keep a known place in this chain.)
"""


# revision identifiers, used by Alembic.
revision = 'bdaa198386db'
down_revision = '715640718ca8'
branch_labels = None
depends_on = None

def upgrade():
    pass


def downgrade():
    pass
