"""the reminder log by status and date: the home page's failed emails of the last days

Revision ID: rr0011
Revises: rr0010
Create Date: 2026-12-01 20:06:55.350884

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0011'
down_revision = 'rr0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rr_reminder_log', schema=None) as batch_op:
        batch_op.create_index('ix_rr_reminder_log_status_created', ['status', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('rr_reminder_log', schema=None) as batch_op:
        batch_op.drop_index('ix_rr_reminder_log_status_created')

