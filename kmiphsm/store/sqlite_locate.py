"""Render a :class:`~kmiphsm.store.filters.LocatePlan` as one SQLite query, and run it.

Every attribute condition is an ``EXISTS`` over the object's attribute rows. When some
condition can use the ``attributes_by_key`` index, the cheapest such condition drives the
query instead: its matching object ids are looked up through the index and only those objects
are read and sorted. Which one is cheapest is found by counting each candidate's index
entries up to :data:`PROBE_LIMIT` (a bounded, index-only count). When even the cheapest
matches many objects and the query has a Maximum Items, walking the objects newest first and
stopping after that many matches is cheaper, so no condition drives.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from kmiphsm.store.filters import (
    SQLITE,
    AttributeCondition,
    FieldTest,
    LocatePlan,
    visibility,
)
from kmiphsm.store.interface import (
    ARCHIVAL_STORAGE,
    DESTROYED_STATES,
    DESTROYED_STORAGE,
    ONLINE_STORAGE,
)

PROBE_LIMIT = 2000

_DESTROYED = f"o.state IN ({', '.join(str(state) for state in sorted(DESTROYED_STATES))})"
# An object is in exactly one storage class: destroyed, else archived, else on-line.
_STORAGE_CLASSES = {
    ONLINE_STORAGE: f"(NOT {_DESTROYED} AND o.archived = 0)",
    ARCHIVAL_STORAGE: f"(NOT {_DESTROYED} AND o.archived = 1)",
    DESTROYED_STORAGE: _DESTROYED,
}


def locate(conn: sqlite3.Connection, plan: LocatePlan) -> list[str]:
    """Unique identifiers matching ``plan``, newest first, after offset, up to maximum."""
    if plan.maximum_items == 0:
        return []
    matching = _matching(conn, plan, limited=plan.maximum_items is not None)
    if matching is None:
        return []
    source, params = matching
    sql = f"SELECT o.uid {source} ORDER BY o.created DESC, o.id DESC"
    if plan.maximum_items is not None or plan.offset_items:
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if plan.maximum_items is None else plan.maximum_items, plan.offset_items]
    return [uid for (uid,) in conn.execute(sql, params)]


def page(conn: sqlite3.Connection, plan: LocatePlan) -> tuple[list[str], int]:
    """:func:`locate`'s page and the count of every match (Located Items), in one statement:
    the page's rows carry the count (``count(*) OVER ()``, taken before LIMIT and OFFSET).
    Its driver is the count's: a full page needs every match counted anyway, so walking
    ``objects_by_created`` to stop early (as :func:`locate` may) would gain nothing."""
    matching = _matching(conn, plan, limited=False)
    if matching is None:
        return [], 0
    source, params = matching
    rows = conn.execute(
        f"SELECT o.uid, count(*) OVER () {source}"
        " ORDER BY o.created DESC, o.id DESC LIMIT ? OFFSET ?",
        [*params, -1 if plan.maximum_items is None else plan.maximum_items,
         plan.offset_items]).fetchall()
    if rows:
        return [uid for uid, _ in rows], int(rows[0][1])
    # an empty page: nothing matches, or the offset is past the last match
    return [], count(conn, plan) if plan.offset_items or plan.maximum_items == 0 else 0


def count(conn: sqlite3.Connection, plan: LocatePlan) -> int:
    """How many objects match ``plan``, ignoring offset and maximum (Located Items)."""
    matching = _matching(conn, plan, limited=False)
    if matching is None:
        return 0
    source, params = matching
    (total,) = conn.execute(f"SELECT count(*) {source}", params).fetchone()
    return int(total)


def _matching(conn: sqlite3.Connection, plan: LocatePlan, *, limited: bool
              ) -> tuple[str, list[Any]] | None:
    """``FROM ... WHERE ...`` of the objects matching ``plan`` and its parameters, driven by
    the condition :func:`_choose_driver` picks; None when some condition matches nothing."""
    driver = _choose_driver(conn, plan, limited=limited)
    if driver is _NOTHING:
        return None
    where, params = _where(plan, driver)
    source = "objects AS o NOT INDEXED" if driver is not None else "objects AS o"
    return f"FROM {source} WHERE {where}", params


_NOTHING = AttributeCondition("")  # sentinel: some condition matches no value at all


def _choose_driver(
    conn: sqlite3.Connection, plan: LocatePlan, *, limited: bool
) -> AttributeCondition | None:
    indexed = [condition for condition in plan.attributes if condition.indexed]
    if len(indexed) == 1 and not limited:  # the only choice: no probe (an empty match
        return indexed[0]                  # costs the main query no more than the probe)
    best: AttributeCondition | None = None
    best_count = PROBE_LIMIT + 1
    for condition in indexed:
        (found,) = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM attributes AS a"
            " WHERE a.name = ? AND a.key_kind = ? AND a.key BETWEEN ? AND ? LIMIT ?)",
            (condition.name, condition.kind, condition.low, condition.high, PROBE_LIMIT),
        ).fetchone()
        if found == 0:
            return _NOTHING
        if found < best_count:
            best, best_count = condition, found
    if limited and best_count >= PROBE_LIMIT:
        return None
    return best


def _where(plan: LocatePlan, driver: AttributeCondition | None) -> tuple[str, list[Any]]:
    clauses = ["o.pending = 0"]
    params: list[Any] = []
    visible, visible_params = visibility(plan, SQLITE)
    clauses.extend(visible)
    params.extend(visible_params)
    if plan.object_types is not None:
        if not plan.object_types:
            clauses.append("0")
        else:
            clauses.append(f"o.object_type IN ({', '.join('?' * len(plan.object_types))})")
            params.extend(plan.object_types)
    classes = [sql for bit, sql in _STORAGE_CLASSES.items() if plan.storage_status & bit]
    if len(classes) < len(_STORAGE_CLASSES):
        clauses.append("(" + " OR ".join(classes) + ")")
    for column in plan.columns:
        clauses.append(f"o.{column.column} = ?")
        params.append(column.value)
    for condition in plan.attributes:
        sql, condition_params = _attribute_sql(condition, by_key=condition is driver)
        if condition is driver:
            clauses.append(f"o.id IN (SELECT a.object_id FROM attributes AS a WHERE {sql})")
        else:
            clauses.append(
                f"EXISTS (SELECT 1 FROM attributes AS a WHERE a.object_id = o.id AND {sql})"
            )
        params.extend(condition_params)
    return " AND ".join(clauses), params


def _attribute_sql(condition: AttributeCondition, *, by_key: bool) -> tuple[str, list[Any]]:
    """SQL testing one attribute row ``a``.

    With ``by_key`` false the key tests are written ``+a.key...``: the unary plus keeps SQLite
    from seeking ``attributes_by_key`` (which, for a range or a mask, would visit every value
    of that name for each object), so it seeks the object's own rows by primary key instead.
    """
    plus = "" if by_key else "+"
    clauses = ["a.name = ?"]
    params: list[Any] = [condition.name]
    if condition.kind is not None:
        clauses.append(f"{plus}a.key_kind = ?")
        params.append(condition.kind)
    if condition.low is not None:
        if condition.low == condition.high:
            clauses.append(f"{plus}a.key = ?")
            params.append(condition.low)
        else:
            clauses.append(f"{plus}a.key BETWEEN ? AND ?")
            params.extend((condition.low, condition.high))
    if condition.mask is not None:
        clauses.append("(a.key & ?) = ?")
        params.extend((condition.mask, condition.mask))
    for test in condition.fields:
        sql, test_params = _field_sql(test)
        clauses.append(sql)
        params.extend(test_params)
    return " AND ".join(clauses), params


def _json_path(path: tuple[str | int, ...]) -> str:
    """JSONPath of the tagged value at ``path`` inside a stored ``[tag, payload]``."""
    text = "$"
    for step in path:
        text += f'[1]."{step}"' if isinstance(step, str) else f"[1][{step}]"
    return text


def _field_sql(test: FieldTest) -> tuple[str, list[Any]]:
    path = _json_path(test.path)
    sql = "json_extract(a.value, ?) = ?"
    params: list[Any] = [path + "[0]", test.tag]
    if test.op == "len":
        sql += " AND json_array_length(a.value, ?) = ?"
        params.extend((path + "[1]", test.operand))
    elif test.op in ("=", ">="):
        sql += f" AND json_extract(a.value, ?) {test.op} ?"
        params.extend((path + "[1]", test.operand))
    elif test.op is not None:
        raise ValueError(f"unknown field test {test.op!r}")
    return sql, params


__all__ = ["PROBE_LIMIT", "count", "locate", "page"]
