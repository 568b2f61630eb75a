"""Self-service passwords and invitations: "forgot password", the reset link's page, "change my
password", and the page an invitation link opens. Thin: the rules live in
``renewals.password_resets``, ``renewals.invitations``, ``renewals.accounts`` and
``renewals.passwords`` (the one password policy).

Public on purpose (no ``@has_access``): forgot password, the reset page and the invitation
page are for people who cannot sign in; "change my password" is for *every* signed-in login,
whatever its roles, so it asks only that someone is signed in. What protects them: every POST
is CSRF-checked (``AddonView``) and rate-limited per client address (``ACCOUNT_RATE_LIMIT``,
attached by the addon), the emailed tokens sit after ``#`` and are exchanged by a POST for a
clean URL (``token_pages``), and "forgot password" answers the same whether or not the
address is known.
"""

from __future__ import annotations

import functools
import logging
import time

from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_login import login_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from renewal_reminder import settings
from renewal_reminder.i18n import gettext as _
from renewal_reminder.i18n import lazy_gettext as _l
from renewal_reminder.renewals import invitations, mailer, password_resets, sessions
from renewal_reminder.renewals.accounts import set_password
from renewal_reminder.renewals.validation import InvalidValue
from renewal_reminder.session import current_mail
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView, after_the_response, too_many_attempts
from renewal_reminder.views.token_pages import landing_page, no_referrer, posted_token

log = logging.getLogger(__name__)

#: Session keys holding the exchanged tokens (re-checked on every step).
RESET_KEY = "rr_password_reset"
INVITATION_KEY = "rr_invitation"
#: How long an exchanged token waits in the session for its form: a form left open (on a
#: shared computer, say) must not keep a way to set the password for the link's whole life
#: (an hour for a reset, a week for an invitation).
EXCHANGED_TOKEN_SECONDS = 15 * 60


def _keep_token(key: str, token: str | None) -> None:
    session[key] = {"t": token, "at": int(time.time())}


def _kept_token(key: str) -> str | None:
    """The token exchanged into the session under ``key``, if it was less than
    ``EXCHANGED_TOKEN_SECONDS`` ago; otherwise it is dropped."""
    kept = session.get(key)
    if (
        isinstance(kept, dict)
        and isinstance(kept.get("at"), int)
        and 0 <= time.time() - kept["at"] <= EXCHANGED_TOKEN_SECONDS
        and isinstance(kept.get("t"), str)
    ):
        return kept["t"]
    session.pop(key, None)
    return None


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[InputRequired(), Length(max=320)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(), Length(max=200)])
    again = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[InputRequired(), Length(max=200)])


class InvitationForm(NewPasswordForm):
    username = StringField(_l("Login name"), validators=[Length(max=128)])
    email = EmailField(_l("Email address for this login"), validators=[Length(max=320)])


def _mail_settings() -> mailer.MailSettings:
    return mailer.MailSettings.from_config(settings.current())


def _language() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return "nl" if locale is not None and locale.language == "nl" else "en"


class _AccountPages(AddonView, BaseView):
    template_folder = TEMPLATE_FOLDER

    def create_blueprint(self, appbuilder, endpoint=None, static_folder=None):
        blueprint = super().create_blueprint(appbuilder, endpoint, static_folder)
        blueprint.after_request(no_referrer)
        blueprint.register_error_handler(429, too_many_attempts)
        return blueprint

    def _form_page(
        self,
        form,
        *,
        title: str,
        intro: str,
        submit: str,
        fields,
        status=200,
        problem: str | None = None,
        note: str | None = None,
    ):
        return (
            self.render_template(
                "rr/account_form.html",
                title=title,
                intro=intro,
                form=form,
                fields=fields,
                submit=submit,
                problem=problem,
                note=note,
                t=_,
            ),
            status,
        )

    def _message(self, *, title: str, message: str, status: int = 200, link=None):
        return (
            self.render_template(
                "rr/account_message.html", title=title, message=message, link=link, t=_
            ),
            status,
        )


class RenewalsAccountView(_AccountPages):
    """``/account/...``: forgot password, the reset link, change my password."""

    route_base = "/account"
    default_view = "change_password"

    # --- forgot password ------------------------------------------------------------------

    @expose("/forgot-password", methods=["GET", "POST"])
    def forgot_password(self):
        form = ForgotPasswordForm()
        if request.method == "POST" and form.validate_on_submit():
            # The same answer, in the same time, whether or not the address belongs to a
            # login: the login is looked up and emailed after the answer has gone.
            after_the_response(
                functools.partial(_send_reset_link, self.appbuilder, form.email.data, _language())
            )
            return self._message(
                title=_("Check your email"),
                message=_(
                    "If a login has the address %(address)s, an email with a link to set a new "
                    "password is on its way. The link works once, for one hour.",
                    address=form.email.data.strip(),
                ),
                link=(self.appbuilder.get_url_for_login, _("Back to sign in")),
            )
        return self._form_page(
            form,
            title=_("Forgot password?"),
            intro=_(
                "Enter the email address of your login. We email you a link to set a new password."
            ),
            submit=_("Email me a link"),
            fields=[form.email],
            status=400 if request.method == "POST" else 200,
        )

    # --- the reset link -------------------------------------------------------------------

    @expose("/reset-password", methods=["GET", "POST"])
    def reset_password(self):
        """GET: the landing page that posts the token from after ``#``; POST: check it, keep
        it in the session and continue on a clean URL."""
        if request.method == "GET":
            return landing_page(
                self,
                title=_("Set a new password"),
                message=_("One moment: checking your link…"),
                action=url_for(".reset_password"),
            )
        token = posted_token()
        try:
            payload = password_resets.read_reset_link(token)
            password_resets.login_for_reset(self.appbuilder.session, self.appbuilder.sm, payload)
        except password_resets.ResetRefused:
            return self._reset_refused()
        _keep_token(RESET_KEY, token)
        return redirect(url_for(".new_password"))

    @expose("/new-password", methods=["GET", "POST"])
    def new_password(self):
        db = self.appbuilder.session
        try:
            payload = password_resets.read_reset_link(_kept_token(RESET_KEY))
            user = password_resets.login_for_reset(db, self.appbuilder.sm, payload)
        except password_resets.ResetRefused:
            session.pop(RESET_KEY, None)
            return self._reset_refused()
        form = NewPasswordForm()
        problem = None
        if request.method == "POST" and form.validate_on_submit():
            try:
                set_password(db, user, form.password.data)
            except InvalidValue as exc:
                db.rollback()
                problem = str(exc)
            else:
                db.commit()
                session.pop(RESET_KEY, None)
                flash(_("Your password is set. Sign in with it."), "success")
                return redirect(self.appbuilder.get_url_for_login)
        return self._form_page(
            form,
            title=_("Set a new password"),
            intro=_("Choose a new password for the login %(login)s.", login=user.username),
            submit=_("Set password"),
            fields=[form.password, form.again],
            problem=problem,
            note=_password_advice(),
            status=422 if request.method == "POST" else 200,
        )

    def _reset_refused(self):
        return self._message(
            title=_("This link does not work"),
            message=_(
                "The link is used, expired (it works for one hour) or not complete. Ask for a "
                "new one."
            ),
            status=400,
            link=(url_for(".forgot_password"), _("Forgot password?")),
        )

    # --- change my password ---------------------------------------------------------------

    @expose("/password", methods=["GET", "POST"])
    def change_password(self):
        """For every signed-in login, whatever its roles."""
        user = g.user
        if user is None or not user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path))
        db = self.appbuilder.session
        user = self.appbuilder.sm.get_user_by_id(user.id)
        form = ChangePasswordForm()
        problem = None
        if request.method == "POST" and form.validate_on_submit():
            if not check_password_hash(user.password or "", form.current.data):
                problem = _("The current password is not right.")
            else:
                try:
                    set_password(db, user, form.password.data)
                except InvalidValue as exc:
                    db.rollback()
                    problem = str(exc)
                else:
                    db.commit()
                    # This browser stays signed in; every other session of the login ends.
                    sessions.stamp(user)
                    flash(
                        _("Your password is changed. Every other session of your login has ended."),
                        "success",
                    )
                    return redirect(url_for(".change_password"))
        return self._form_page(
            form,
            title=_("Change my password"),
            intro=_("For the login %(login)s.", login=user.username),
            submit=_("Change password"),
            fields=[form.current, form.password, form.again],
            problem=problem,
            note=_password_advice(),
            status=422 if request.method == "POST" else 200,
        )


class RenewalsInvitationView(_AccountPages):
    """``/invitation/``: the page an invitation email's link opens."""

    route_base = "/invitation"
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        if request.method == "GET":
            return landing_page(
                self,
                title=_("Set your password"),
                message=_("One moment: checking your invitation…"),
                action=url_for(".index"),
            )
        token = posted_token()
        try:
            invitations.open_invitation(self.appbuilder.session, invitations.read_link(token))
        except invitations.InvitationRefused:
            return self._refused()
        _keep_token(INVITATION_KEY, token)
        return redirect(url_for(".accept"))

    @expose("/accept", methods=["GET", "POST"])
    def accept(self):
        db = self.appbuilder.session
        sm = self.appbuilder.sm
        try:
            link = invitations.read_link(_kept_token(INVITATION_KEY))
            invitation = invitations.open_invitation(db, link)
        except invitations.InvitationRefused:
            session.pop(INVITATION_KEY, None)
            return self._refused()
        relation = invitation.relation
        choice = invitations.login_choice(db, sm, invitation)
        form = InvitationForm()
        if request.method == "GET":
            form.username.data = "" if choice.username_taken else choice.default
            form.email.data = "" if choice.email_taken else choice.default
        problem = None
        if request.method == "POST" and form.validate_on_submit():
            try:
                user = invitations.accept(
                    db,
                    sm,
                    invitation,
                    password=form.password.data,
                    username=form.username.data if choice.username_taken else None,
                    email=form.email.data if choice.email_taken else None,
                )
            except invitations.InvitationRefused:
                db.rollback()
                session.pop(INVITATION_KEY, None)
                return self._refused()
            except InvalidValue as exc:
                db.rollback()
                problem = str(exc)
            else:
                db.commit()
                session.pop(INVITATION_KEY, None)
                login_user(user, remember=False)
                flash(_("Welcome! Your password is set."), "success")
                return redirect(url_for("RenewalsSelectionView.index"))
        fields = []
        note = None
        if choice.username_taken or choice.email_taken:
            note = _(
                "Another login already uses %(address)s. Choose your own login name and "
                "email address for this login.",
                address=choice.default,
            )
        if choice.username_taken:
            fields.append(form.username)
        if choice.email_taken:
            fields.append(form.email)
        fields += [form.password, form.again]
        intro = _(
            "Set a password for the renewal pages of relation #%(number)s %(name)s.",
            number=relation.number,
            name=relation.name,
        )
        if not choice.username_taken:
            intro += " " + _("Your login name: %(login)s.", login=choice.default)
        return self._form_page(
            form,
            title=_("Set your password"),
            intro=intro,
            submit=_("Set password"),
            fields=fields,
            problem=problem,
            note=" ".join(filter(None, [note, _password_advice()])),
            status=422 if request.method == "POST" else 200,
        )

    def _refused(self):
        return self._message(
            title=_("This invitation does not work"),
            message=_(
                "The invitation is used, replaced by a newer one, expired (it works for 7 "
                "days) or not complete. If you already set your password, sign in; otherwise "
                "ask your contact for a new invitation."
            ),
            status=400,
            link=(self.appbuilder.get_url_for_login, _("Sign in")),
        )


def _send_reset_link(appbuilder, address: str, language: str) -> None:
    """Email a reset link to the login with ``address``, if there is one (run after the
    response, ``after_the_response``: this is the transaction's entry point)."""
    db = appbuilder.session
    mail = _mail_settings()
    outgoing = password_resets.reset_email(db, appbuilder.sm, mail, address, language)
    db.commit()  # only read: end the transaction before talking to the mail server
    if outgoing is None:
        return
    [result] = mailer.send_all(current_mail(), [outgoing], mail.sender)
    if not result.ok:
        log.warning("password reset email not sent: %s", result.error)


def _password_advice() -> str:
    return _(
        "At least 10 characters and hard to guess: a few unrelated words make a good password."
    )
