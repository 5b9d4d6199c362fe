"""Render a :class:`~kmiphsm.store.filters.LocatePlan` as one PostgreSQL query, and run it.

The plan is the one :mod:`kmiphsm.store.sqlite_locate` renders for SQLite (the KMIP matching
rules live in :mod:`kmiphsm.store.filters`). Every attribute condition is an ``EXISTS`` over
the object's attribute rows; an indexed condition tests the typed key column of its kind
(``attributes_by_int`` / ``_text`` / ``_bytes``, see postgres_schema.py), and PostgreSQL's
planner turns the most selective one into an index scan joined to ``objects`` (index-only:
the key indexes include ``object_id``, so a match costs no attribute page). Structure
fields are tested inside the stored tagged JSON with ``jsonb`` path operators.
"""

from __future__ import annotations

import json
from typing import Any

from kmiphsm.store import values
from kmiphsm.store.filters import (
    POSTGRESQL,
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
from kmiphsm.store.postgres_schema import KEY_COLUMNS, key_columns

_DESTROYED = f"o.state IN ({', '.join(str(state) for state in sorted(DESTROYED_STATES))})"
# An object is in exactly one storage class: destroyed, else archived, else on-line.
_STORAGE_CLASSES = {
    ONLINE_STORAGE: f"(NOT {_DESTROYED} AND o.archived = 0)",
    ARCHIVAL_STORAGE: f"(NOT {_DESTROYED} AND o.archived = 1)",
    DESTROYED_STORAGE: _DESTROYED,
}


def locate(cursor: Any, plan: LocatePlan) -> list[str]:
    """Unique identifiers matching ``plan``, newest first, after offset, up to maximum."""
    if plan.maximum_items == 0:
        return []
    cursor.execute(*_select_page("o.uid", plan))
    return [uid for (uid,) in cursor.fetchall()]


def page(cursor: Any, plan: LocatePlan) -> tuple[list[str], int]:
    """:func:`locate`'s page and the count of every match (Located Items), in one statement:
    the page's rows carry the count (``count(*) OVER ()``, taken before LIMIT and OFFSET)."""
    cursor.execute(*_select_page("o.uid, count(*) OVER ()", plan))
    rows = cursor.fetchall()
    if rows:
        return [uid for uid, _ in rows], int(rows[0][1])
    # an empty page: nothing matches, or the offset is past the last match
    return [], count(cursor, plan) if plan.offset_items or plan.maximum_items == 0 else 0


def _select_page(columns: str, plan: LocatePlan) -> tuple[str, list[Any]]:
    """SELECT ``columns`` of the objects matching ``plan``, newest first, the page asked."""
    where, params = _where(plan)
    sql = f"SELECT {columns} FROM objects AS o WHERE {where} ORDER BY o.created DESC, o.id DESC"
    if plan.maximum_items is not None:
        sql += " LIMIT %s"
        params.append(plan.maximum_items)
    if plan.offset_items:
        sql += " OFFSET %s"
        params.append(plan.offset_items)
    return sql, params


def count(cursor: Any, plan: LocatePlan) -> int:
    """How many objects match ``plan``, ignoring offset and maximum (Located Items)."""
    where, params = _where(plan)
    cursor.execute(f"SELECT count(*) FROM objects AS o WHERE {where}", params)
    (total,) = cursor.fetchone()
    return int(total)


def _where(plan: LocatePlan) -> tuple[str, list[Any]]:
    clauses = ["o.pending = 0"]
    params: list[Any] = []
    visible, visible_params = visibility(plan, POSTGRESQL)
    clauses.extend(visible)
    params.extend(visible_params)
    if plan.object_types is not None:
        if not plan.object_types:
            clauses.append("FALSE")
        else:
            clauses.append("o.object_type = ANY(%s)")
            params.append(list(plan.object_types))
    classes = [sql for bit, sql in _STORAGE_CLASSES.items() if plan.storage_status & bit]
    if len(classes) < len(_STORAGE_CLASSES):
        clauses.append("(" + " OR ".join(classes) + ")")
    for column in plan.columns:
        clauses.append(f"o.{column.column} = %s")
        params.append(column.value)
    for condition in plan.attributes:
        sql, condition_params = _attribute_sql(condition)
        clauses.append(
            f"EXISTS (SELECT 1 FROM attributes AS a WHERE a.object_id = o.id AND {sql})")
        params.extend(condition_params)
    return " AND ".join(clauses), params


def _attribute_sql(condition: AttributeCondition) -> tuple[str, list[Any]]:
    """SQL testing one attribute row ``a``."""
    clauses = ["a.name = %s"]
    params: list[Any] = [condition.name]
    if condition.kind is not None:
        clauses.append("a.key_kind = %s")
        params.append(condition.kind)
    column = KEY_COLUMNS.get(condition.kind or "")
    if condition.low is not None:
        if column is None:
            return "FALSE", []
        low = key_columns(condition.kind or "", condition.low)
        high = key_columns(condition.kind or "", condition.high)
        position = ("key_int", "key_text", "key_bytes").index(column)
        if condition.low == condition.high:
            clauses.append(f"a.{column} = %s")
            params.append(low[position])
        else:
            clauses.append(f"a.{column} BETWEEN %s AND %s")
            params.extend((low[position], high[position]))
    if condition.mask is not None:
        clauses.append("(a.key_int & %s) = %s")
        params.extend((condition.mask, condition.mask))
    for test in condition.fields:
        sql, test_params = _field_sql(test)
        clauses.append(sql)
        params.extend(test_params)
    return " AND ".join(clauses), params


def _json_path(path: tuple[str | int, ...]) -> list[str]:
    """The ``jsonb #>`` path of the tagged value at ``path`` inside a stored ``[tag, payload]``."""
    steps: list[str] = []
    for step in path:
        steps.extend(("1", str(step)))
    return steps


def _field_sql(test: FieldTest) -> tuple[str, list[Any]]:
    path = _json_path(test.path)
    sql = "(a.value::jsonb #>> %s) = %s"
    params: list[Any] = [path + ["0"], test.tag]
    if test.op == "len":
        sql += " AND jsonb_array_length(a.value::jsonb #> %s) = %s"
        params.extend((path + ["1"], test.operand))
    elif test.op == "=":
        operand = bool(test.operand) if test.tag == values.BOOL else test.operand
        sql += " AND (a.value::jsonb #> %s) = %s::jsonb"
        params.extend((path + ["1"], json.dumps(operand)))
    elif test.op == ">=":
        sql += " AND (a.value::jsonb #>> %s)::numeric >= %s"
        params.extend((path + ["1"], test.operand))
    elif test.op is not None:
        raise ValueError(f"unknown field test {test.op!r}")
    return sql, params


__all__ = ["count", "locate", "page"]
