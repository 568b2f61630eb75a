"""registrar sync safety: when a domain was first found gone, differences left for people

Revision ID: rr0009
Revises: rr0008
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0009'
down_revision = 'rr0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rr_domain', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registry_gone_since', sa.DateTime(), nullable=True))

    op.create_table('rr_registry_difference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('job_run_id', sa.Integer(), nullable=True),
    sa.Column('found_at', sa.DateTime(), nullable=False),
    sa.Column('detail', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['rr_domain.id'], name=op.f('rr_registry_difference_domain_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_run_id'], ['rr_job_run.id'], name=op.f('rr_registry_difference_job_run_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('rr_registry_difference_pkey'))
    )
    with op.batch_alter_table('rr_registry_difference', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rr_registry_difference_domain_id'), ['domain_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rr_registry_difference_found_at'), ['found_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rr_registry_difference_job_run_id'), ['job_run_id'], unique=False)


def downgrade():
    with op.batch_alter_table('rr_registry_difference', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rr_registry_difference_job_run_id'))
        batch_op.drop_index(batch_op.f('ix_rr_registry_difference_found_at'))
        batch_op.drop_index(batch_op.f('ix_rr_registry_difference_domain_id'))

    op.drop_table('rr_registry_difference')
    with op.batch_alter_table('rr_domain', schema=None) as batch_op:
        batch_op.drop_column('registry_gone_since')
