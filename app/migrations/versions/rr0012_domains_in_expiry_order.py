"""domains in expiry order: the lists' pages read from indexes, not sorted from the table

Revision ID: rr0012
Revises: rr0011
Create Date: 2026-12-02 19:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0012'
down_revision = 'rr0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rr_domain', schema=None) as batch_op:
        batch_op.create_index('ix_rr_domain_expiry_name', ['expiry_date', 'name', 'status', 'relation_id'], unique=False, postgresql_include=['id'])
        batch_op.drop_index('ix_rr_domain_relation_status_expiry')
        batch_op.create_index('ix_rr_domain_relation_status_expiry', ['relation_id', 'status', 'expiry_date', 'name'], unique=False)


def downgrade():
    with op.batch_alter_table('rr_domain', schema=None) as batch_op:
        batch_op.drop_index('ix_rr_domain_relation_status_expiry')
        batch_op.create_index('ix_rr_domain_relation_status_expiry', ['relation_id', 'status', 'expiry_date'], unique=False)
        batch_op.drop_index('ix_rr_domain_expiry_name', postgresql_include=['id'])
