"""FAB's model interface for lists of a million rows (the domain list).

FAB's ``SQLAInterface.query`` counts every matching row exactly, then reads the page in one
query that joins nothing (each row's ``relation`` is then loaded on its own: 25 statements a
page) and breaks ties on the primary key, which no index orders together with the sort
column. At a million domains that sorted the whole table on every page. Here:

- ties are broken on a unique column the view names (``tie_breakers``), so an index on
  (sort column, tie breaker) reads the page in order (``ix_rr_domain_expiry_name``);
- the page is found as ids first (read from that index, past the offset, without touching
  the rows) and only its rows are then loaded, with the relationships the list shows
  (``eager``) in the same statement;
- the count is exact up to ``EXACT_COUNT_LIMIT`` rows; beyond that PostgreSQL gives the
  planner's estimate (counting a million rows costs more than the whole page), SQLite keeps
  counting (it counts from the smallest index, fast enough).

Filters, scope (``base_filters``), ordering and the page size are FAB's, unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import asc, desc, func, select, text
from sqlalchemy.exc import CompileError
from sqlalchemy.orm import Query, joinedload

#: Up to this many matching rows the list shows the exact count; beyond, on PostgreSQL, an
#: estimate (and at least this many).
EXACT_COUNT_LIMIT = 100_000


class LargeListInterface(SQLAInterface):
    """``SQLAInterface`` for big lists; see the module docstring."""

    def __init__(
        self,
        obj,
        session=None,
        *,
        eager: Iterable[str] = (),
        tie_breakers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(obj, session)
        self.eager = tuple(eager)
        self.tie_breakers = dict(tie_breakers or {})

    def apply_order_by(
        self,
        query: Query,
        order_column: str,
        order_direction: str,
        aliases_mapping=None,
        bypass_many_to_many: bool = False,
        add_pk: bool = False,
    ) -> Query:
        """FAB's ordering; where the view names a unique tie breaker for the column, that
        instead of the primary key (so one index serves the whole ORDER BY)."""
        tie_breaker = self.tie_breakers.get(order_column)
        query = super().apply_order_by(
            query,
            order_column,
            order_direction,
            aliases_mapping=aliases_mapping,
            bypass_many_to_many=bypass_many_to_many,
            add_pk=add_pk and tie_breaker is None,
        )
        if add_pk and tie_breaker is not None:
            direction = asc if order_direction == "asc" else desc
            query = query.order_by(direction(getattr(self.obj, tie_breaker)))
        return query

    def query(
        self,
        filters=None,
        order_column: str = "",
        order_direction: str = "",
        page: int | None = None,
        page_size: int | None = None,
        select_columns: list[str] | None = None,
        outer_default_load: bool = False,
        *,
        with_count: bool = True,
    ) -> tuple[int, list]:
        """FAB's ``query``: the count of every matching row and one page of them, in order.
        ``with_count=False`` skips the count (a CSV export reads page after page)."""
        if select_columns:
            return super().query(
                filters,
                order_column,
                order_direction,
                page,
                page_size,
                select_columns,
                outer_default_load,
            )
        count = self.count_rows(filters) if with_count else None
        ids = self._page_ids(filters, order_column, order_direction, page, page_size, count)
        pk = self.get_pk()
        rows = []
        if ids:
            query = self.session.query(self.obj).filter(pk.in_(ids))
            for name in self.eager:
                query = query.options(joinedload(getattr(self.obj, name)))
            by_id = {getattr(item, pk.key): item for item in query}
            rows = [by_id[row_id] for row_id in ids if row_id in by_id]
        return (count if count is not None else len(rows)), rows

    def _page_ids(self, filters, order_column, order_direction, page, page_size, count):
        """The ids of the page's rows, in order. Past the middle of an exactly counted list
        the page is read from the other end, in reverse order (an offset costs as many rows
        as it skips: the last page of 50,000 rows then skips none)."""
        if page is not None and page_size and count is not None and count <= _exact_limit(self):
            offset = page * page_size
            if offset >= count:
                return []
            if order_column and offset > count // 2:
                size = min(page_size, count - offset)
                reverse = "asc" if order_direction == "desc" else "desc"
                query = self._apply_inner_all(
                    self.session.query(self.get_pk()),
                    filters,
                    order_column,
                    reverse,
                    aliases_mapping={},
                )
                ids = [row[0] for row in query.limit(size).offset(count - offset - size)]
                return ids[::-1]
        query = self._apply_inner_all(
            self.session.query(self.get_pk()),
            filters,
            order_column,
            order_direction,
            page,
            page_size,
            aliases_mapping={},
        )
        return [row[0] for row in query]

    def count_rows(self, filters) -> int:
        """How many rows match: exact up to ``EXACT_COUNT_LIMIT``, then (PostgreSQL) the
        planner's estimate, never less than the limit."""
        matching = self._apply_inner_all(
            self.session.query(self.get_pk()), filters, aliases_mapping={}
        )
        if self.session.get_bind().dialect.name != "postgresql":
            return matching.count()
        bounded = matching.limit(EXACT_COUNT_LIMIT + 1).subquery()
        count = self.session.scalar(select(func.count()).select_from(bounded))
        if count <= EXACT_COUNT_LIMIT:
            return count
        return max(EXACT_COUNT_LIMIT + 1, _planner_estimate(self.session, matching))


def _exact_limit(interface: SQLAInterface) -> float:
    """Up to how many rows ``count_rows`` counts exactly on this database."""
    if interface.session.get_bind().dialect.name == "postgresql":
        return EXACT_COUNT_LIMIT
    return float("inf")


def _planner_estimate(session, query: Query) -> int:
    """PostgreSQL's estimate of the rows ``query`` returns (``EXPLAIN``, nothing is read);
    0 when the query cannot be written out for ``EXPLAIN`` (the caller keeps its floor)."""
    try:
        compiled = query.statement.compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
    except (NotImplementedError, CompileError):  # a value type without a literal form
        return 0
    plan = session.scalar(text("EXPLAIN (FORMAT JSON) " + str(compiled).replace(":", r"\:")))
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
