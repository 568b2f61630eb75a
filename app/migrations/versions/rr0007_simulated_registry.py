"""simulated registry in the database, resumable job runs

Revision ID: rr0007
Revises: rr0006
Create Date: 2026-12-01 18:11:54.235320

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0007'
down_revision = 'rr0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rr_simulated_registry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('expiry_date', sa.Date(), nullable=False),
    sa.Column('statuses', sa.String(length=500), nullable=False),
    sa.Column('registered', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('rr_simulated_registry_pkey')),
    sa.UniqueConstraint('name', name=op.f('rr_simulated_registry_name_key'))
    )
    with op.batch_alter_table('rr_job_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resume_after_id', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('rr_job_run', schema=None) as batch_op:
        batch_op.drop_column('resume_after_id')

    op.drop_table('rr_simulated_registry')
