"""Row-level security for FAB ModelViews, built on ``renewal_reminder.renewals.access``.

FAB's ``base_filters`` guard list, show, edit and delete, but not bulk actions (``action`` and
``action_post`` load rows by id without filters), not ``add``, and not an edit that moves a row
to another relation. ``ScopedModelView`` closes those gaps once for every product view.
"""

from __future__ import annotations

from flask import abort, flash, g, has_request_context, redirect, request
from flask_appbuilder import ModelView, expose
from flask_appbuilder.const import FLAMSG_ERR_SEC_ACCESS_DENIED
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterNotEqual,
    get_field_setup_query,
)
from sqlalchemy import any_, false, literal
from sqlalchemy.dialects import postgresql

from renewal_reminder.renewals import access
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView
from renewal_reminder.views.params import positive_int


class FilterByAccess(BaseFilter):
    """Keeps rows whose column is in the id subquery the given function returns for ``g.user``.

    The function (e.g. ``access.visible_relation_ids``) is evaluated on every query, so the
    filter always follows the signed-in user; ``None`` from it means "no restriction".
    """

    name = "Visible to the signed-in user"
    arg_name = None

    def apply(self, query, scope_function):
        allowed_ids = scope_function(g.user)
        if allowed_ids is None:
            return query
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field.in_(allowed_ids))


class FilterByAccessResolvedFirst(FilterByAccess):
    """``FilterByAccess`` for lists of a million rows: on PostgreSQL the visible ids are read
    first, in a query of their own, and the rows are filtered by that list, sent as one array
    (``column = ANY(:ids)``), instead of by a subquery.

    The planner cannot estimate the scope's subquery (a Sales contact's relations ``OR`` the
    clients of their resellers): it guessed half the relations, so it counted a Sales
    contact's 50,000 domains of a million by reading the whole table (115-170 ms). Given the
    ids themselves it estimates from the column's statistics, reads those relations' domains
    from the ``relation_id`` index (8-20 ms), and the list's estimated count beyond
    ``EXACT_COUNT_LIMIT`` is right too (an array from a subquery is guessed at ten ids).
    The rows are the same; SQLite (which materialises an ``IN`` subquery and looks each id
    up) keeps the subquery.
    """

    def apply(self, query, scope_function):
        allowed_ids = scope_function(g.user)
        if allowed_ids is None:
            return query
        session = self.datamodel.session
        if session.get_bind().dialect.name != "postgresql":
            return super().apply(query, lambda _user: allowed_ids)
        query, field = get_field_setup_query(query, self.model, self.column_name)
        ids = _read_once_per_request(
            (scope_function, self.model, self.column_name, getattr(g.user, "id", None)),
            lambda: session.scalars(allowed_ids).all(),
        )
        return query.filter(field == any_(literal(ids, postgresql.ARRAY(field.type))))


def _read_once_per_request(key, read):
    """``read()``, remembered for the rest of this request under ``key``: a list page applies
    its filters twice (the count, then the page), and a Sales contact's visible ids are
    thousands of rows. Kept in the request's environ, which lives exactly as long as the
    request (never across requests or users)."""
    if not has_request_context():
        return read()
    remembered = request.environ.setdefault("renewal_reminder.scope_ids", {})
    if key not in remembered:
        remembered[key] = read()
    return remembered[key]


class EnumFilterEqual(FilterEqual):
    """FAB's "Equal to" on an enum column, for any text: a value outside the enum matches no
    row (FAB's own passes it to the database column, which raises)."""

    def apply(self, query, value):
        member = _enum_member(self, value)
        if member is None:
            return query.filter(false())
        return super().apply(query, member)


class EnumFilterNotEqual(FilterNotEqual):
    """FAB's "Not equal to" on an enum column: a value outside the enum excludes no row."""

    def apply(self, query, value):
        member = _enum_member(self, value)
        if member is None:
            return query
        return super().apply(query, member)


def _enum_member(flt: BaseFilter, value):
    enum_class = flt.datamodel.list_columns[flt.column_name].type.enum_class
    try:
        return enum_class(value)
    except (ValueError, TypeError):
        return None


_SAFE_ENUM_FILTERS = {FilterEqual: EnumFilterEqual, FilterNotEqual: EnumFilterNotEqual}


class SafeListArgumentsMixin:
    """For a FAB ModelView: the list's URL arguments (ordering, paging, enum filters) can only
    narrow the list or be ignored, never crash it."""

    #: The largest page a list may be asked for (``psize_<View>``): larger asks get this.
    max_page_size = 100

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for filters in (self._filters.get_search_filters(), self._filters._all_filters):
            for column, column_filters in filters.items():
                if self.datamodel.is_enum(column):
                    filters[column] = [
                        _SAFE_ENUM_FILTERS.get(type(flt), type(flt))(column, self.datamodel)
                        for flt in column_filters
                    ]

    def _list(self, **kwargs):
        try:
            return super()._list(**kwargs)
        except ValueError:  # FAB parses page_/psize_ arguments with a bare int()
            abort(400)

    def _get_list_widget(
        self,
        filters,
        actions=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        widgets=None,
        **kwargs,
    ):
        """FAB takes ordering and paging from the URL as given: order only by the view's own
        order columns (no ordering oracle on hidden columns, no 500 on dotted names) and keep
        the page within bounds."""
        if order_column not in self.order_columns or order_direction not in ("asc", "desc"):
            order_column, order_direction = "", ""
        page = page if isinstance(page, int) and 0 <= page < 1_000_000 else None
        if page_size is not None:
            page_size = page_size if isinstance(page_size, int) and page_size > 0 else None
            page_size = min(page_size, self.max_page_size) if page_size else None
        return super()._get_list_widget(
            filters,
            actions=actions,
            order_column=order_column,
            order_direction=order_direction,
            page=page,
            page_size=page_size,
            widgets=widgets,
            **kwargs,
        )


class ScopedModelView(AddonView, SafeListArgumentsMixin, ModelView):
    """A ModelView whose every row-loading path obeys ``base_filters``.

    Subclasses set ``base_filters`` with ``FilterByAccess`` and name the relationship to the
    owning relation in ``relation_attribute`` (``None`` when rows cannot be added or moved).
    """

    relation_attribute: str | None = "relation"
    template_folder = TEMPLATE_FOLDER

    #: The most rows one bulk action takes (FAB's list shows at most ``max_page_size``).
    max_bulk_rows = 1000

    def _scoped_get(self, pk):
        row_id = positive_int(pk)
        item = self.datamodel.get(row_id, self._base_filters) if row_id else None
        if item is None:
            abort(404)
        return item

    def _scoped_get_many(self, pks: list[str]) -> list:
        """The rows named by ``pks``, each once, in one query; 404 if any is not a row the user
        may see (as for one row)."""
        ids = list(dict.fromkeys(positive_int(pk) for pk in pks))
        if None in ids:
            abort(404)
        if len(ids) > self.max_bulk_rows:
            abort(400, description=f"Select at most {self.max_bulk_rows} rows at once.")
        if not ids:
            return []
        model = self.datamodel.obj
        pk_column = getattr(model, self.datamodel.get_pk_name())
        query = self.datamodel.session.query(model).filter(pk_column.in_(ids))
        found = {item.id: item for item in self._base_filters.apply_all(query)}
        if len(found) != len(ids):
            abort(404)
        return [found[row_id] for row_id in ids]

    #: Show-page columns that customers (anyone but Admin and Sales) never see.
    staff_only_columns: tuple[str, ...] = ()

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        """FAB's show widget, without ``staff_only_columns`` for customers. The columns are
        chosen per request, never by changing the view instance that all requests share."""
        columns = self.show_columns
        if self.staff_only_columns and not access.is_staff(g.user):
            columns = [c for c in columns if c not in self.staff_only_columns]
        widgets = widgets or {}
        widgets["show"] = self.show_widget(
            pk=pk,
            label_columns=self.label_columns,
            include_columns=columns,
            value_columns=self.datamodel.get_values_item(item, columns),
            formatters_columns=self.formatters_columns,
            actions=actions or self.actions,
            fieldsets=show_fieldsets or self.show_fieldsets,
            modelview_name=self.__class__.__name__,
        )
        return widgets

    def render_template(self, template, **kwargs):
        """FAB draws every related view's tab on a show or edit page without asking whether
        the user may list that view: keep only the tabs they may."""
        views = kwargs.get("related_views")
        if views:
            sm = self.appbuilder.sm
            keep = [
                index
                for index, view in enumerate(views)
                if sm.has_access("can_list", view.class_permission_name)
            ]
            kwargs["related_views"] = [views[index] for index in keep]
            widgets = kwargs.get("widgets") or {}
            if "related_views" in widgets:
                widgets["related_views"] = [widgets["related_views"][index] for index in keep]
        return super().render_template(template, **kwargs)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        if not self.is_get_mutation_allowed():
            flash(str(FLAMSG_ERR_SEC_ACCESS_DENIED), "danger")
            return redirect(self.get_redirect())
        action = self.actions.get(name)
        if action is None:
            abort(404)
        if not self.appbuilder.sm.has_access(
            self.get_action_permission_name(name), self.class_permission_name
        ):
            flash(str(FLAMSG_ERR_SEC_ACCESS_DENIED), "danger")
            return redirect(".")
        return action.func(self._scoped_get(pk))

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        name = request.form.get("action", "")
        action = self.actions.get(name)
        if action is None:
            abort(404)
        if not self.appbuilder.sm.has_access(
            self.get_action_permission_name(name), self.class_permission_name
        ):
            flash(str(FLAMSG_ERR_SEC_ACCESS_DENIED), "danger")
            return redirect(".")
        return action.func(self._scoped_get_many(request.form.getlist("rowid")))

    def _check_relation(self, item) -> None:
        """Refuse to create a row for, or move a row to, a relation outside the user's scope."""
        if self.relation_attribute is None:
            return
        relation = getattr(item, self.relation_attribute)
        relation_id = relation.id if relation is not None else None
        session = self.datamodel.session
        with session.no_autoflush:  # the new item is not ready to be written yet
            allowed = access.can_access_relation(session, g.user, relation_id)
        if not allowed:
            raise access.AccessDenied("You cannot assign this to that relation.")

    def pre_add(self, item):
        self._check_relation(item)

    def pre_update(self, item):
        self._check_relation(item)


class FilterUserHasRole(BaseFilter):
    """For relation dropdowns of FAB users: only users holding the named role (the name, or a
    function returning it, evaluated per query: role names are per host)."""

    name = "Has role"
    arg_name = None

    def apply(self, query, role_name):
        if callable(role_name):
            role_name = role_name()
        role_model = self.datamodel.obj.roles.property.mapper.class_
        return query.filter(self.datamodel.obj.roles.any(role_model.name == role_name))


def use_text_filters(view, column: str, filter_classes) -> None:
    """Offer ``filter_classes`` (text inputs) as the search filters of ``column``.

    FAB keeps the filters it shows (``_search_filters``) apart from those it applies from the
    URL (``_all_filters``, looked up by index); both must hold the same list.
    """
    filters = [filter_class(column, view.datamodel) for filter_class in filter_classes]
    view._filters.get_search_filters()[column] = filters
    view._filters._all_filters[column] = filters
