"""claims on renewal decisions being executed

Revision ID: 576f6b7c7a73
Revises: fcefa7bc9317
Create Date: 2026-11-25 14:01:41.616461

(Product tables only: since 2026-12 these changes are part of the product's own baseline,
renewal_reminder/migrations/versions/rr0001_baseline.py. The revision stays, empty, so that
databases already at it keep a known place in this chain.)
"""


# revision identifiers, used by Alembic.
revision = '576f6b7c7a73'
down_revision = 'fcefa7bc9317'
branch_labels = None
depends_on = None

def upgrade():
    pass


def downgrade():
    pass
