"""one queued decision per domain and expiry date

Revision ID: 5fa4f0d66db3
Revises: bdaa198386db
Create Date: 2026-11-25 13:40:08.667215

(Product tables only: since 2026-12 these changes are part of the product's own baseline,
renewal_reminder/migrations/versions/rr0001_baseline.py. The revision stays, empty, so that
databases already at it keep a known place in this chain.)
"""


# revision identifiers, used by Alembic.
revision = '5fa4f0d66db3'
down_revision = 'bdaa198386db'
branch_labels = None
depends_on = None

def upgrade():
    pass


def downgrade():
    pass
