"""customer receipts: the outbox of receipts for decisions, renewals and removals

Revision ID: rr0004
Revises: rr0003
Create Date: 2026-12-09 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0004'
down_revision = 'rr0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rr_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('event_key', sa.String(length=64), nullable=False),
    sa.Column('relation_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'failed', name='ck_receiptstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['relation_id'], ['rr_relation.id'], name=op.f('rr_receipt_relation_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('rr_receipt_pkey')),
    sa.UniqueConstraint('kind', 'event_key', name='uq_rr_receipt_event')
    )
    with op.batch_alter_table('rr_receipt', schema=None) as batch_op:
        batch_op.create_index('ix_rr_receipt_claim', ['claim_token'], unique=False)
        batch_op.create_index('ix_rr_receipt_status', ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('rr_receipt', schema=None) as batch_op:
        batch_op.drop_index('ix_rr_receipt_status')
        batch_op.drop_index('ix_rr_receipt_claim')

    op.drop_table('rr_receipt')
