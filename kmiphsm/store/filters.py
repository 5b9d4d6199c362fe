"""KMIP 2.1 Locate matching rules, turned into simple conditions any SQL dialect can render.

:func:`plan` reads a :class:`~kmiphsm.store.interface.LocateQuery` and decides what each
filter means (KMIP 2.1 §6.1.28): exact match, structure match with wildcards, usage-mask
subset, usage-limits minimum, date or date range, or a test on the object's own fields. The
result is a :class:`LocatePlan` of plain conditions; ``sqlite_locate`` renders it as SQL, and
a PostgreSQL store can render the same plan its own way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kmiphsm.store import values
from kmiphsm.store.errors import InvalidValueError
from kmiphsm.store.interface import (
    ARCHIVAL_STORAGE,
    DESTROYED_STORAGE,
    ONLINE_STORAGE,
    AttributeFilter,
    LocateQuery,
)

#: Locate filter names that test :class:`StoredObject` fields, and the column for each.
COLUMNS = {"UniqueIdentifier": "uid", "ObjectType": "object_type", "State": "state"}

USAGE_MASK = "CryptographicUsageMask"
USAGE_LIMITS = "UsageLimits"
#: Usage Limits fields an object must have at least as large as requested.
AT_LEAST_FIELDS = frozenset({"UsageLimitsTotal", "UsageLimitsCount"})


@dataclass(frozen=True)
class ColumnEquals:
    """The object's own field ``column`` equals ``value``."""

    column: str
    value: Any


@dataclass(frozen=True)
class FieldTest:
    """A test at ``path`` inside a stored structure (field names and list positions).

    The value there must have tag ``tag``; then, unless ``op`` is None, its payload must be
    ``= operand`` or ``>= operand``, or (``op == "len"``) the list there must have
    ``operand`` items.
    """

    path: tuple[str | int, ...]
    tag: str
    op: str | None = None
    operand: Any = None


@dataclass(frozen=True)
class AttributeCondition:
    """The object has a value of attribute ``name`` passing every test given.

    ``kind``/``low``/``high`` test the indexed key (``low == high`` for equality, an inclusive
    range otherwise); ``mask`` requires those bits set in the key; ``fields`` test inside the
    stored structure.
    """

    name: str
    kind: str | None = None
    low: Any = None
    high: Any = None
    mask: int | None = None
    fields: tuple[FieldTest, ...] = ()

    @property
    def indexed(self) -> bool:
        """True when the key index alone can find the candidate values."""
        return self.kind is not None and self.low is not None


@dataclass(frozen=True)
class LocatePlan:
    owner: str | None
    grantees: tuple[str, ...]
    grant_operation: str
    scoped: bool
    scope: str | None
    object_types: tuple[int, ...] | None
    storage_status: int
    columns: tuple[ColumnEquals, ...]
    attributes: tuple[AttributeCondition, ...]
    maximum_items: int | None
    offset_items: int


def plan(query: LocateQuery) -> LocatePlan:
    """Check ``query`` and turn its filters into conditions."""
    if query.maximum_items is not None and query.maximum_items < 0:
        raise InvalidValueError("Maximum Items must not be negative")
    if query.offset_items < 0:
        raise InvalidValueError("Offset Items must not be negative")
    storage = query.storage_status or ONLINE_STORAGE
    if storage & ~(ONLINE_STORAGE | ARCHIVAL_STORAGE | DESTROYED_STORAGE):
        raise InvalidValueError(f"unknown Storage Status Mask bits in {storage:#x}")
    object_types = None if query.object_types is None else tuple(query.object_types)

    columns: list[ColumnEquals] = []
    conditions: list[AttributeCondition] = []
    dates: dict[str, list[datetime]] = defaultdict(list)
    for item in query.filters:
        if not isinstance(item, AttributeFilter):
            raise InvalidValueError(f"not an AttributeFilter: {item!r}")
        if item.name in COLUMNS:
            columns.append(_column_condition(item))
        elif isinstance(item.value, datetime):
            dates[item.name].append(item.value)
        else:
            conditions.append(_attribute_condition(item))
    for name, instants in dates.items():
        conditions.append(_date_condition(name, instants))

    return LocatePlan(
        owner=query.owner,
        grantees=tuple(query.grantees),
        grant_operation=query.grant_operation,
        scoped=query.scoped,
        scope=query.scope,
        object_types=object_types,
        storage_status=storage,
        columns=tuple(columns),
        attributes=tuple(conditions),
        maximum_items=query.maximum_items,
        offset_items=query.offset_items,
    )


def _column_condition(item: AttributeFilter) -> ColumnEquals:
    expected = str if item.name == "UniqueIdentifier" else int
    if isinstance(item.value, bool) or not isinstance(item.value, expected):
        raise InvalidValueError(
            f"{item.name} filter needs a {expected.__name__}, not {item.value!r}"
        )
    return ColumnEquals(COLUMNS[item.name], item.value)


def _date_condition(name: str, instants: list[datetime]) -> AttributeCondition:
    if len(instants) > 2:
        raise InvalidValueError(
            f"{len(instants)} values of date attribute {name}: give one date or two (a range)"
        )
    micros = sorted(values.to_micros(instant) for instant in instants)
    return AttributeCondition(name, kind=values.TIME, low=micros[0], high=micros[-1])


def _attribute_condition(item: AttributeFilter) -> AttributeCondition:
    name, value = item.name, item.value
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"attribute names must be non-empty str, not {name!r}")
    if name == USAGE_MASK and not isinstance(value, dict):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValueError(f"{USAGE_MASK} filter needs an int mask, not {value!r}")
        return AttributeCondition(name, kind=values.INT, mask=value)
    if isinstance(value, dict):
        return _structure_condition(name, value)
    key = values.scalar_key(value)
    if key is None:
        raise InvalidValueError(
            f"cannot match a {type(value).__name__} value for {name}: {value!r}"
        )
    kind, scalar = key
    return AttributeCondition(name, kind=kind, low=scalar, high=scalar)


def _structure_condition(name: str, wanted: dict[str, Any]) -> AttributeCondition:
    """A structure with every field of ``wanted``; its key field goes through the index."""
    key_field = values.KEY_FIELDS.get(name)
    kind = scalar = None
    if key_field is not None and key_field in wanted:
        key = values.scalar_key(wanted[key_field])
        if key is not None:
            kind, scalar = key
            wanted = {field: v for field, v in wanted.items() if field != key_field}
    at_least = AT_LEAST_FIELDS if name == USAGE_LIMITS else frozenset()
    tests = [FieldTest((), values.STRUCT)]
    for field, field_value in wanted.items():
        tests.extend(_field_tests((field,), field_value, ">=" if field in at_least else "="))
    return AttributeCondition(name, kind=kind, low=scalar, high=scalar, fields=tuple(tests))


def _field_tests(path: tuple[str | int, ...], wanted: Any, op: str) -> list[FieldTest]:
    """Tests that the stored value at ``path`` matches ``wanted`` (structures partially)."""
    if isinstance(path[-1], str) and '"' in path[-1]:
        raise InvalidValueError(f"cannot match structure field name {path[-1]!r}")
    if isinstance(wanted, dict):
        tests = [FieldTest(path, values.STRUCT)]
        for field, field_value in wanted.items():
            tests.extend(_field_tests(path + (field,), field_value, "="))
        return tests
    if isinstance(wanted, list):
        tests = [FieldTest(path, values.LIST, "len", len(wanted))]
        for position, item in enumerate(wanted):
            tests.extend(_field_tests(path + (position,), item, "="))
        return tests
    tag, payload = values.encode(wanted, in_structure=True)
    if tag == values.BOOL:
        payload = int(payload)  # JSON true/false read back from SQL as 1/0
    if op == ">=" and tag != values.INT:
        raise InvalidValueError(f"field {path[-1]} needs an int to compare, not {wanted!r}")
    return [FieldTest(path, tag, op, payload)]


@dataclass(frozen=True)
class SqlDialect:
    """What differs between the two stores' SQL in :func:`visibility`."""

    #: a parameter placeholder: ``?`` (sqlite3) or ``%s`` (psycopg)
    mark: str
    #: NULL-safe equality: ``IS`` (SQLite) or ``IS NOT DISTINCT FROM`` (PostgreSQL)
    same: str
    #: membership in a list: ``IN (?, ?...)`` with one parameter per value (SQLite), or
    #: ``= ANY(%s)`` with the list as one parameter (PostgreSQL)
    any_array: bool

    def member(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        if self.any_array:
            return f"{column} = ANY({self.mark})", [list(values)]
        return f"{column} IN ({', '.join(self.mark for _ in values)})", list(values)


SQLITE = SqlDialect(mark="?", same="IS", any_array=False)
POSTGRESQL = SqlDialect(mark="%s", same="IS NOT DISTINCT FROM", any_array=True)


def visibility(plan: LocatePlan, dialect: SqlDialect) -> tuple[list[str], list[Any]]:
    """The WHERE clauses (on objects ``o``) of who may find what: the ``owner``'s objects, or
    with ``grantees`` also those of its scope a grant lets one of its names find; with no
    owner (an administrator) the objects of ``scope`` when ``scoped``."""
    m = dialect.mark
    if plan.owner is None:
        if plan.scoped:
            return [f"o.scope {dialect.same} {m}"], [plan.scope]
        return [], []
    if not plan.grantees:
        return [f"o.owner = {m}"], [plan.owner]
    grantee, grantees = dialect.member("g.grantee", plan.grantees)
    scope = f" AND o.scope {dialect.same} {m}" if plan.scoped else ""
    clause = (f"(o.owner = {m} OR (EXISTS (SELECT 1 FROM access_grants AS g"
              f" WHERE {grantee} AND g.operation = {m}"
              f" AND (g.object = o.uid OR (g.object = '*' AND g.owner = o.owner))){scope}))")
    params = [plan.owner, *grantees, plan.grant_operation]
    if plan.scoped:
        params.append(plan.scope)
    return [clause], params
