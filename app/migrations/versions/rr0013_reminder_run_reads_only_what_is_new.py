"""the reminder run reads only what is new: the log by reminder date, unsent rows through a
partial index, changed domains by their update time, the calendar each run covered

Revision ID: rr0013
Revises: rr0012
Create Date: 2026-12-01 21:45:37

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0013'
down_revision = 'rr0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rr_job_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_offsets', sa.String(length=255), nullable=True))

    with op.batch_alter_table('rr_domain', schema=None) as batch_op:
        batch_op.create_index('ix_rr_domain_updated', ['updated_at'], unique=False)

    with op.batch_alter_table('rr_reminder_log', schema=None) as batch_op:
        batch_op.create_index('ix_rr_reminder_log_reminder_date', ['reminder_date'], unique=False)
        batch_op.create_index('ix_rr_reminder_log_unsent', ['reminder_date'], unique=False, sqlite_where=sa.text("status != 'sent'"), postgresql_where=sa.text("status != 'sent'"))


def downgrade():
    with op.batch_alter_table('rr_reminder_log', schema=None) as batch_op:
        batch_op.drop_index('ix_rr_reminder_log_unsent', sqlite_where=sa.text("status != 'sent'"), postgresql_where=sa.text("status != 'sent'"))
        batch_op.drop_index('ix_rr_reminder_log_reminder_date')

    with op.batch_alter_table('rr_domain', schema=None) as batch_op:
        batch_op.drop_index('ix_rr_domain_updated')

    with op.batch_alter_table('rr_job_run', schema=None) as batch_op:
        batch_op.drop_column('reminder_offsets')
