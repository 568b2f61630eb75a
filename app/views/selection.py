"""The renewal selection page (``/renewals/``): customers confirm or decline many renewals at
once. Thin: who the page is for, parsing the form, and showing results; the rules live in
``renewal_reminder.renewals.decisions``.

Who uses it: a FAB login with the ``select`` permission, or a link session (the personal link
in a customer email, ``views.customer_links``), which opens this page and its summary and
nothing else. When both are present the FAB login wins (the link session is dropped)."""

from __future__ import annotations

import datetime as dt
import re

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    request,
    session,
    url_for,
)
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import select

from renewal_reminder import settings
from renewal_reminder.i18n import gettext as _
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Relation,
    RelationKind,
    RenewalDecision,
)
from renewal_reminder.renewals import access, decisions, mailer, notifications
from renewal_reminder.renewals.validation import InvalidValue
from renewal_reminder.session import current_mail
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView, send_receipts
from renewal_reminder.views.customer_links import customer_link_or_login, who
from renewal_reminder.views.params import positive_int

_FIELD = re.compile(r"^decision-([0-9]{1,9})$")  # ids are 32-bit integers
SUMMARY_KEY = "rr_selection_summary"
#: Rows per page: about 0.4 MB of HTML, and a page costs the same in any portfolio size.
PAGE_SIZE = 500
#: The form field of "apply to all matching": the number of matching rows the person saw.
ALL_MATCHING = "all_matching"


class SelectionForm(FlaskForm):
    """No fields of its own: the per-domain inputs are parsed by ``_choices``; this carries
    the CSRF token."""


class RenewalsSelectionView(AddonView, BaseView):
    route_base = "/renewals"
    default_view = "index"
    validates_csrf_in_form = True  # index: form.validate_on_submit() before anything
    template_folder = TEMPLATE_FOLDER

    @expose("/", methods=["GET", "POST"])
    @customer_link_or_login
    @has_access
    @permission_name("select")
    def index(self):
        db = self.appbuilder.session
        relation = self._relation(db)
        if relation is None:
            return self._choose_relation()
        form = SelectionForm()
        submitted: dict[int, tuple[str, str]] = {}
        if request.method == "POST":
            submitted = _submitted_values()
            if not form.validate_on_submit():
                flash(_("The form expired; please submit it again."), "danger")
                return self._page(db, relation, form, submitted), 400
            if ALL_MATCHING in request.form:
                choices, problem = self._all_matching(db, relation)
                if problem:
                    flash(_("Nothing was saved: %(reason)s", reason=problem), "danger")
                    return self._page(db, relation, form, {}), 422
            else:
                choices, row_errors = _choices(submitted)
                if row_errors:
                    flash(_("Nothing was saved: please correct the marked lines."), "danger")
                    return self._page(db, relation, form, submitted, row_errors), 422
            user = who()
            channel = _channel(user)
            try:
                recorded = decisions.record_decisions(
                    db,
                    relation=relation,
                    choices=choices,
                    channel=channel,
                    decided_by_id=user.id,  # None through a link: no login decided
                    remote_addr=request.remote_addr,
                )
            except decisions.PeriodTooLong as exc:
                flash(_("Nothing was saved: please correct the marked lines."), "danger")
                return self._page(db, relation, form, submitted, {exc.domain_id: str(exc)}), 422
            except decisions.DecisionRejected as exc:
                flash(_("Nothing was saved: %(reason)s", reason=str(exc)), "danger")
                return self._page(db, relation, form, submitted), 422
            notification = None
            if recorded.changed:
                notification = notifications.notify_sales_of_decisions(
                    db,
                    current_mail(),
                    mailer.MailSettings.from_config(settings.current()),
                    relation,
                    recorded,
                    decided_by=_person(db, user),
                    channel=channel.value,
                )
            send_receipts(db, recorded.receipts)
            ids = [d.id for d in recorded.decisions]
            session[SUMMARY_KEY] = {
                "relation": relation.number,
                # Which decisions, without listing thousands of ids in the session cookie
                # (a browser drops a cookie past 4 kB, and the login with it): one
                # submission's decisions share their ``decided_at``, and lie within its ids.
                "first": min(ids, default=0),
                "last": max(ids, default=0),
                "at": recorded.decisions[0].decided_at.isoformat() if ids else None,
                "unchanged": len(recorded.unchanged),
                "informed": notification.informed.value if notification else None,
            }
            # The filters the page had stay on for the way back from the summary.
            return redirect(url_for(".summary", relation=relation.number, **_filters()))
        return self._page(db, relation, form, submitted)

    @expose("/summary")
    @customer_link_or_login
    @has_access
    @permission_name("select")
    def summary(self):
        db = self.appbuilder.session
        relation = self._relation(db)
        data = session.get(SUMMARY_KEY)
        if relation is None or not data or data.get("relation") != relation.number:
            return redirect(url_for(".index"))
        visible = access.visible_domain_ids(who())
        query = select(RenewalDecision).where(
            RenewalDecision.id.between(data.get("first", 0), data.get("last", 0)),
            RenewalDecision.decided_at == _parse_time(data.get("at")),
        )
        if visible is not None:
            query = query.where(RenewalDecision.domain_id.in_(visible))
        recorded = db.scalars(query.order_by(RenewalDecision.id)).all()
        return self.render_template(
            "rr/selection_summary.html",
            title=_("Your renewal decisions"),
            relation=relation,
            renew=[d for d in recorded if d.decision is Decision.renew],
            decline=[d for d in recorded if d.decision is Decision.decline],
            unchanged=data.get("unchanged", 0),
            informed=data.get("informed"),
            staff=access.is_staff(who()),
            filters=_filters(),
            t=_,
        )

    # --- helpers ----------------------------------------------------------------------------

    def _relation(self, db) -> Relation | None:
        """Whose page this is: a customer's own relation (or one of its clients, with
        ``?relation=``); for Admin and Sales the relation named by ``?relation=NUMBER``.
        Anything outside the user's scope is a 404, like a relation that does not exist."""
        text = (request.values.get("relation") or "").strip().lstrip("#")
        if text:
            number = positive_int(text)
            if number is None:
                abort(404)
            relation = db.scalar(select(Relation).where(Relation.number == number))
            if relation is None or not access.can_access_relation(db, who(), relation.id):
                abort(404)
            return relation
        if access.is_staff(who()):
            return None
        relation = access.linked_relation(db, who())
        if relation is None:
            abort(no_relation_page(self))
        return relation

    def _choose_relation(self):
        return self.render_template("rr/selection_choose.html", title="Renewal selection", t=_)

    def _all_matching(self, db, relation: Relation) -> tuple[list[decisions.Choice], str | None]:
        """The choices "apply to all matching" asks for: one decision for every row matching
        the page's filters, on every page (found here, in the relation's tree: no ids come
        from the form). Refused when the number of matching rows is not the one the person
        saw (rows came or went since), or the decision is not valid."""
        try:
            choice = decisions.parse_choice(
                0, request.form.get("all_decision", ""), request.form.get("all_years", "1")
            )
        except InvalidValue as exc:
            return [], str(exc)
        name_filter, client_number = _filter_args()
        rows = decisions.selection_rows(
            db,
            relation,
            dt.date.today(),
            int(settings.current()["RENEWAL_WINDOW_DAYS"]),
            name_filter=name_filter,
            client_number=client_number,
        )
        if positive_int(request.form.get(ALL_MATCHING, "")) != len(rows):
            return [], _(
                "the list changed since you opened it (%(count)s domains match now). Please "
                "check it and try again.",
                count=len(rows),
            )
        if choice is None:
            return [], None
        return decisions.all_matching_choices(rows, choice.decision, choice.years), None

    def _page(self, db, relation: Relation, form, submitted, row_errors=None):
        window = int(settings.current()["RENEWAL_WINDOW_DAYS"])
        name_filter, client_number = _filter_args()
        today = dt.date.today()
        page = decisions.selection_page(
            db,
            relation,
            today,
            window,
            page=positive_int(request.args.get("page", "1")) or 1,
            page_size=PAGE_SIZE,
            name_filter=name_filter,
            client_number=client_number,
        )
        # The filter's choices: numbers and names only, no need for the ORM's objects.
        clients = (
            decisions.plain_rows(
                db,
                select(Relation.number, Relation.name)
                .where(Relation.parent_id == relation.id)
                .order_by(Relation.name),
            ).all()
            if relation.kind is RelationKind.reseller
            else []
        )
        return self.render_template(
            "rr/selection.html",
            title=_("Renew your domains"),
            relation=relation,
            page=page,
            rows_html=_rows_html(page.rows, relation, submitted, row_errors or {}),
            clients=clients,
            form=form,
            window=window,
            name_filter=name_filter,
            client_number=client_number,
            staff=access.is_staff(who()),
            t=_,
        )


def _rows_html(
    rows: list[decisions.SelectionRow],
    relation: Relation,
    submitted: dict[int, tuple[str, str]],
    row_errors: dict[int, str],
) -> Markup:
    """The table rows, from a template of their own (rr/_selection_rows.html) rendered in one
    go: inside the page's ``content`` block every fragment of every row would pass up through
    the five levels of FAB's layout, which cost more than the rows themselves."""
    template = current_app.jinja_env.get_template("rr/_selection_rows.html")
    return Markup(
        template.render(
            rows=rows,
            relation_id=relation.id,
            submitted=submitted,
            row_errors=row_errors,
            # Why fewer years are offered, per distinct limit (rows share a handful of them).
            period_hints={
                limit: escape(hint)
                for limit in {row.max_years for row in rows}
                if (hint := decisions.period_hint(limit))
            },
            # Translated and escaped once, not per row: a page has hundreds of rows.
            l_renew=escape(_("Renew")),
            l_decline=escape(_("Decline")),
            l_none=escape(_("No decision")),
            l_years=escape(_("Years")),
            l_expired=escape(_("expired")),
            l_select=escape(_("Select")),
            l_processed=escape(_("Processed by your sales contact")),
            l_failed=escape(
                _(
                    "Your sales contact could not carry this out at the registrar; you can choose "
                    "again."
                )
            ),
            l_saved=escape(_("Saved")),
            l_by=escape(_("by")),
            l_expiry=escape(_("Expiry date")),
            l_days_left=escape(_("Days left")),
            l_automatic=escape(
                _(
                    "Declined automatically: no decision was made before the expiry date. You can "
                    "still choose to renew."
                )
            ),
        )
    )


def _filter_args() -> tuple[str, int | None]:
    """The page's filters from the query string: a name fragment and a client number."""
    name_filter = (request.args.get("q") or "").replace("\x00", "")[:100]
    return name_filter, positive_int((request.args.get("client") or "").strip())


def _parse_time(text: str | None) -> dt.datetime | None:
    """A summary's ``decided_at`` back from the session (``None``: no decisions)."""
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def no_relation_page(view: BaseView):
    """A customer login no one has linked to a relation yet (e.g. made in FAB's user
    screens): a page that says so and what to do, not a 404 (the home page shows it too)."""
    html = view.render_template(
        "rr/selection_no_relation.html", title=_("No relation linked to your login"), t=_
    )
    return make_response(html, 403)


def _filters() -> dict[str, str]:
    """The selection page's filters in the request (``q``, ``client``) and its page, to carry
    along."""
    return {
        key: request.args[key][:100] for key in ("q", "client", "page") if request.args.get(key)
    }


def _submitted_values() -> dict[int, tuple[str, str]]:
    """``{domain id: (decision, years)}`` from the posted form, as typed (for re-display)."""
    values = {}
    for key in request.form:
        match = _FIELD.match(key)
        if match:
            domain_id = int(match.group(1))
            values[domain_id] = (
                request.form.get(key, ""),
                request.form.get(f"years-{domain_id}", "1"),
            )
    return values


def _choices(
    submitted: dict[int, tuple[str, str]],
) -> tuple[list[decisions.Choice], dict[int, str]]:
    """The valid choices, and ``{domain id: problem}`` for lines that are not valid."""
    choices, errors = [], {}
    for domain_id, (decision, years) in submitted.items():
        try:
            choice = decisions.parse_choice(domain_id, decision, years)
        except InvalidValue as exc:
            errors[domain_id] = str(exc)
            continue
        if choice is not None:
            choices.append(choice)
    return choices, errors


def _channel(user) -> DecisionChannel:
    """A sales contact or admin acting for the customer: ``sales``; the personal link in an
    email: ``email_link``; a customer's own login: ``selection_page``."""
    if access.is_staff(user):
        return DecisionChannel.sales
    if access.is_link_visitor(user):
        return DecisionChannel.email_link
    return DecisionChannel.selection_page


def _person(db, user) -> str:
    """Who decided, as the sales notification names them."""
    if access.is_link_visitor(user):
        holder = db.get(Relation, user.relation_id)
        return f"Whoever opened the personal link emailed to #{holder.number} {holder.name}"
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return f"{name} ({user.username})" if name else user.username
