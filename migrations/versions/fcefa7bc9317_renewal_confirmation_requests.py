"""renewal confirmation requests

Revision ID: fcefa7bc9317
Revises: 5fa4f0d66db3
Create Date: 2026-11-25 13:50:22.591242

(Product tables only: since 2026-12 these changes are part of the product's own baseline,
renewal_reminder/migrations/versions/rr0001_baseline.py. The revision stays, empty, so that
databases already at it keep a known place in this chain.)
"""


# revision identifiers, used by Alembic.
revision = 'fcefa7bc9317'
down_revision = '5fa4f0d66db3'
branch_labels = None
depends_on = None

def upgrade():
    pass


def downgrade():
    pass
