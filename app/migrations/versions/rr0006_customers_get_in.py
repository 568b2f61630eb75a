"""customers get in: link versions, invitations, session versions

Revision ID: rr0006
Revises: rr0005
Create Date: 2026-12-01 18:09:02.178843

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'rr0006'
down_revision = 'rr0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rr_user_session',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], name=op.f('rr_user_session_user_id_fkey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('rr_user_session_pkey'))
    )
    op.create_table('rr_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('relation_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'failed', name='ck_invitationstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['invited_by_id'], ['ab_user.id'], name=op.f('rr_invitation_invited_by_id_fkey'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['relation_id'], ['rr_relation.id'], name=op.f('rr_invitation_relation_id_fkey'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], name=op.f('rr_invitation_user_id_fkey'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('rr_invitation_pkey'))
    )
    with op.batch_alter_table('rr_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_rr_invitation_claim', ['claim_token'], unique=False)
        batch_op.create_index(batch_op.f('ix_rr_invitation_relation_id'), ['relation_id'], unique=False)
        batch_op.create_index('ix_rr_invitation_status', ['status'], unique=False)

    with op.batch_alter_table('rr_relation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_version', sa.Integer(), server_default='1', nullable=False))

    # Decisions made through the signed link in a customer's email get their own channel.
    with op.batch_alter_table('rr_renewal_decision', schema=None) as batch_op:
        batch_op.drop_constraint('ck_decisionchannel', type_='check')
        batch_op.create_check_constraint('ck_decisionchannel', sa.text(
            "channel IN ('selection_page', 'confirmation_code', 'sales', 'automatic', 'email_link')"))



def downgrade():
    op.execute("UPDATE rr_renewal_decision SET channel = 'selection_page' WHERE channel = 'email_link'")
    with op.batch_alter_table('rr_renewal_decision', schema=None) as batch_op:
        batch_op.drop_constraint('ck_decisionchannel', type_='check')
        batch_op.create_check_constraint('ck_decisionchannel', sa.text(
            "channel IN ('selection_page', 'confirmation_code', 'sales', 'automatic')"))
    with op.batch_alter_table('rr_relation', schema=None) as batch_op:
        batch_op.drop_column('link_version')

    with op.batch_alter_table('rr_invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_rr_invitation_status')
        batch_op.drop_index(batch_op.f('ix_rr_invitation_relation_id'))
        batch_op.drop_index('ix_rr_invitation_claim')

    op.drop_table('rr_invitation')
    op.drop_table('rr_user_session')
