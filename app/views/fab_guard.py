"""Clean answers to URL arguments that Flask-AppBuilder's generic routes cannot handle.

FAB's CRUD views (the product's and FAB's own security screens alike) read their URL
conventions without checking them, and answer 500 to, for instance:

* ``?endpoint=x``, ``?_method=POST`` or ``?_scheme=https&_external=``: its list templates pass
  the whole query string to ``url_for``, whose own keyword arguments these are (and
  ``?_external=1&_scheme=javascript`` turns its sort links into ``javascript:`` links);
* ``?page_<View>=abc`` or ``?psize_<View>=abc``: parsed with a bare ``int()``;
* ``?_flt_4_<column>=x``: the filter's index is not checked against the column's filters;
* ``?_flt_0_active=x``: a boolean column is compared with any text but ``y`` as it is, which
  PostgreSQL refuses;
* an unknown action name, an action on a row that does not exist, or an action for one row
  called for a list (``action_post``) or the other way round;
* ``/download/<file>`` without an ``UPLOAD_FOLDER``, ``/chart/<group_by>`` with a group that
  is not one of the chart's, and the password reset form for a user id that does not exist.

``check_fab_arguments`` runs before every request (the addon registers it): it drops
``url_for``'s arguments from the query string and answers the rest with 400 or 404, as it
does a NUL character in an argument or form field of FAB's generic views (which no text column
can store). It checks
that rows exist only for users who may run the route anyway, so it reveals nothing to others.
"""

from __future__ import annotations

import os
import re

from flask import abort, current_app, request
from flask_appbuilder.baseviews import BaseCRUDView, BaseFormView
from flask_appbuilder.charts.views import BaseChartView
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.security import safe_join

from renewal_reminder.views.params import positive_int
from renewal_reminder.views.scoping import SafeListArgumentsMixin, ScopedModelView

#: ``url_for``'s own keyword arguments: never valid in this app's query strings.
URL_FOR_KEYWORDS = frozenset({"endpoint", "_method", "_scheme", "_external", "_anchor"})
#: FAB finds these anywhere in an argument's name (``re.findall("page_(.*)", name)``).
_PAGING = ("page_", "psize_")
_INTEGER = re.compile(r"-?[0-9]{1,9}")
#: A whole number as FAB would read it for an integer filter (any length).
_INTEGER_VALUE = re.compile(r"[-+]?[0-9]+")
#: FAB's own pattern for filter arguments (``_flt_<index>_<column>``), searched the same way.
_FILTER = re.compile(r"_flt_(\d)_(.*)")
#: FAB's ordering argument (``_oc_<View>=<column>``), searched the same way.
_ORDER = re.compile(r"_oc_(.*)")


def check_fab_arguments():
    """Abort with 400 or 404 where FAB would raise on the request's arguments. Once per
    request: the standalone app runs it for every route, the addon's views for their own."""
    if request.environ.get("rr.fab_arguments_checked"):
        return
    request.environ["rr.fab_arguments_checked"] = True
    if not URL_FOR_KEYWORDS.isdisjoint(request.args.keys()):
        # Ignored, as unknown arguments are: FAB's list templates pass the whole query string
        # to url_for (sort and page links), where they crash or make a javascript: link.
        request.args = ImmutableMultiDict(
            (name, value)
            for name, value in request.args.items(multi=True)
            if name not in URL_FOR_KEYWORDS
        )
    args = request.args
    view = _view_of_request()
    if view is None:
        return
    if request.files and not getattr(view, "accepts_files", False):
        # FAB's forms and its login read every field as text; a file there crashes them.
        abort(400, description="This form takes no files.")
    if _is_generic(view) and any("\x00" in text for text in _texts(args) + _texts(request.form)):
        # FAB passes text to the database as it comes, and no text column stores a NUL
        # (PostgreSQL raises). The product's own pages check their input themselves.
        abort(400, description="Text cannot contain NUL characters.")
    if isinstance(view, (BaseCRUDView, BaseChartView)):
        _check_list_arguments(view, args)
    endpoint = request.endpoint.rsplit(".", 1)[-1]
    if isinstance(view, BaseCRUDView) and endpoint in ("action", "action_post"):
        _check_action(view, endpoint)
    elif isinstance(view, BaseCRUDView) and endpoint == "download":
        folder = current_app.config.get("UPLOAD_FOLDER")
        path = safe_join(folder, request.view_args["filename"]) if folder else None
        if path is None or not os.path.isfile(path):
            abort(404)
    elif isinstance(view, BaseChartView) and endpoint == "chart":
        group_by = str(request.view_args.get("group_by", 0))
        definitions = getattr(view, "definitions", None) or []
        if not (group_by.isascii() and group_by.isdigit() and int(group_by) < len(definitions)):
            abort(404)
    elif isinstance(view, _sm().resetpasswordview) and _may(view, endpoint):
        pk = positive_int(request.args.get("pk", ""))
        if pk is None or _sm().get_user_by_id(pk) is None:
            abort(404)


def _is_generic(view) -> bool:
    """FAB's own views (login, users, ...) and every CRUD or form view."""
    return type(view).__module__.startswith("flask_appbuilder.") or isinstance(
        view, (BaseCRUDView, BaseFormView)
    )


def _texts(values) -> list[str]:
    return [*values.keys(), *(value for _, value in values.items(multi=True))]


def _view_of_request():
    if not request.blueprint or not request.endpoint:
        return None
    return _views().get(request.blueprint)


def _views() -> dict:
    """The app's FAB views by blueprint name (FAB names a view's blueprint after its class,
    as its ``_oc_<View>`` arguments do)."""
    appbuilder = current_app.extensions["appbuilder"]
    views = getattr(appbuilder, "_rr_views_by_blueprint", None)
    if views is None:
        views = {
            view.blueprint.name: view
            for view in appbuilder.baseviews
            if getattr(view, "blueprint", None) is not None
        }
        appbuilder._rr_views_by_blueprint = views
    return views


def _ignores_bad_ordering(view) -> bool:
    """Views that are no CRUD view, or that ignore unknown ordering themselves."""
    return not isinstance(view, BaseCRUDView) or isinstance(view, SafeListArgumentsMixin)


def _check_list_arguments(view, args) -> None:
    all_filters = getattr(getattr(view, "_filters", None), "_all_filters", None) or {}
    for name in args:
        paging = any(prefix in name for prefix in _PAGING)
        if paging and not all(_INTEGER.fullmatch(value) for value in args.getlist(name)):
            abort(400, description=f"{name} must be a whole number.")
        order = _ORDER.search(name)
        ordered = _views().get(order.group(1)) if order else None
        if not _ignores_bad_ordering(ordered) and args[name] not in ordered.order_columns:
            abort(400, description=f"Cannot order by {args[name][:40]!r}.")
        flt = _FILTER.search(name)
        column_filters = all_filters.get(flt.group(2)) if flt else None
        if column_filters is None:
            continue
        if int(flt.group(1)) >= len(column_filters):
            abort(400, description=f"Unknown filter: {name}.")
        if view.datamodel.is_boolean(flt.group(2)) and set(args.getlist(name)) - {"y"}:
            # FAB compares a boolean column with the text as given: PostgreSQL refuses that.
            abort(400, description=f"{name} can only be y.")
        if view.datamodel.is_integer(flt.group(2)) and not all(
            _fits_an_integer_column(value) for value in args.getlist(name)
        ):
            # FAB passes the number on as given: too large for the column, the database raises
            # (and a CSV export, already streaming, would end half-way).
            abort(400, description=f"{name} must be a whole number the database can store.")


def _fits_an_integer_column(value: str) -> bool:
    text = value.strip()
    if text == "":
        return True  # FAB ignores an empty filter value
    if not _INTEGER_VALUE.fullmatch(text):
        return True  # not a number at all: FAB's own conversion refuses it as before
    return -(2**31) <= int(text) <= 2**31 - 1


def _check_action(view, endpoint: str) -> None:
    """FAB looks the action up by name without checking it exists, and passes a missing row
    on as ``None``."""
    if endpoint == "action":
        name, pks = request.view_args["name"], [request.view_args["pk"]]
    else:
        name, pks = request.form.get("action", ""), request.form.getlist("rowid")
    if name not in view.actions:
        abort(404)
    if _checks_rows_itself(view):
        return
    # FAB hands an action a row from ``action`` and a list from ``action_post``, whatever the
    # action was declared for.
    if not (view.actions[name].single if endpoint == "action" else view.actions[name].multiple):
        abort(404)
    if not _sm().has_access(view.get_action_permission_name(name), view.class_permission_name):
        return
    for pk in pks:
        row_id = positive_int(pk)
        if row_id is None or view.datamodel.get(row_id) is None:
            abort(404)


def _checks_rows_itself(view) -> bool:
    return isinstance(view, ScopedModelView)


def _may(view, endpoint: str) -> bool:
    permission = view.method_permission_name.get(endpoint, endpoint)
    return _sm().has_access(f"can_{permission}", view.class_permission_name)


def _sm():
    return current_app.extensions["appbuilder"].sm
