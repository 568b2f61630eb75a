"""portfolio imports run in the background

Revision ID: rr0010
Revises: rr0009
Create Date: 2026-12-01 18:46:15.717840

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0010'
down_revision = 'rr0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rr_import_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('running', 'done', 'failed', name='ck_importstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=True),
    sa.Column('error_total', sa.Integer(), nullable=True),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['started_by_id'], ['ab_user.id'], name=op.f('rr_import_job_started_by_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('rr_import_job_pkey'))
    )


def downgrade():
    op.drop_table('rr_import_job')
