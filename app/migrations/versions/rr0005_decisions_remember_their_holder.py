"""decisions remember the relation that held the domain when they were made

Revision ID: rr0005
Revises: rr0004
Create Date: 2026-12-01 17:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0005'
down_revision = 'rr0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rr_renewal_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('relation_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_rr_renewal_decision_relation_id'), ['relation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('rr_renewal_decision_relation_id_fkey'), 'rr_relation', ['relation_id'], ['id'], ondelete='SET NULL')
    # Existing decisions were made for the domain's present holder, except those an earlier
    # version marked as made for an earlier holder: they belong to no current relation.
    op.execute(
        "UPDATE rr_renewal_decision SET relation_id = (SELECT relation_id FROM rr_domain "
        "WHERE rr_domain.id = rr_renewal_decision.domain_id) "
        "WHERE message IS NULL OR message NOT LIKE '%made for an earlier holder of the domain%'"
    )


def downgrade():
    with op.batch_alter_table('rr_renewal_decision', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('rr_renewal_decision_relation_id_fkey'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rr_renewal_decision_relation_id'))
        batch_op.drop_column('relation_id')
