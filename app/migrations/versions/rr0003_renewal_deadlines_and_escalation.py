"""renewal deadlines: retry attempts of a decision, and the escalation log

Revision ID: rr0003
Revises: rr0002
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0003'
down_revision = 'rr0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rr_renewal_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))

    op.create_table('rr_escalation_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Enum('sales', 'escalation', name='ck_escalationlevel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('sending', 'sent', 'failed', name='ck_escalationstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['rr_renewal_decision.id'], name=op.f('rr_escalation_log_decision_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('rr_escalation_log_pkey')),
    sa.UniqueConstraint('decision_id', 'level', name='uq_rr_escalation_log_alert')
    )
    with op.batch_alter_table('rr_escalation_log', schema=None) as batch_op:
        batch_op.create_index('ix_rr_escalation_log_claim', ['claim_token'], unique=False)


def downgrade():
    with op.batch_alter_table('rr_escalation_log', schema=None) as batch_op:
        batch_op.drop_index('ix_rr_escalation_log_claim')

    op.drop_table('rr_escalation_log')
    with op.batch_alter_table('rr_renewal_decision', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
