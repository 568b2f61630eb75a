"""a relation's domains by status and expiry date: one index for scoped counts and lists

Revision ID: rr0008
Revises: rr0007
Create Date: 2026-12-01 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0008'
down_revision = 'rr0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rr_domain', schema=None) as batch_op:
        batch_op.create_index('ix_rr_domain_relation_status_expiry', ['relation_id', 'status', 'expiry_date'], unique=False)
        batch_op.drop_index('ix_rr_domain_relation_id')


def downgrade():
    with op.batch_alter_table('rr_domain', schema=None) as batch_op:
        batch_op.create_index('ix_rr_domain_relation_id', ['relation_id'], unique=False)
        batch_op.drop_index('ix_rr_domain_relation_status_expiry')
