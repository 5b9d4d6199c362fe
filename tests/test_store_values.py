"""Tests for kmiphsm.store.values: tagged-JSON serialisation and index keys."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial import unittest

from kmiphsm.store import InvalidValueError, values

scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.text(),
    st.binary(),
    st.datetimes(timezones=st.just(timezone.utc)),
)
field_names = st.text(min_size=1, max_size=12)
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(field_names, inner, max_size=4)
    ),
    max_leaves=20,
).filter(lambda v: not isinstance(v, list))
attribute_values = st.one_of(scalars, st.dictionaries(field_names, structures, max_size=5))


def _typed(value: Any) -> Any:
    """``value`` with every leaf paired with its type, so True and 1 compare unequal."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


class ValuesTests(unittest.TestCase):
    @settings(max_examples=300, deadline=None)
    @given(attribute_values)
    def test_every_value_round_trips_exactly(self, value: Any) -> None:
        self.assertEqual(_typed(values.loads(values.dumps(value))), _typed(value))

    @settings(max_examples=300, deadline=None)
    @given(attribute_values)
    def test_stored_text_is_the_generic_encoding_of_the_value(self, value: Any) -> None:
        # the scalars written directly give byte-for-byte the text stored before (rows
        # already in a database and new ones must compare alike)
        generic = json.dumps(values.encode(value), separators=(",", ":"), ensure_ascii=False)
        self.assertEqual(values.dumps(value), generic)

    def test_scalars_written_directly(self) -> None:
        moment = datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=timezone.utc)
        self.assertEqual([values.dumps(v) for v in (True, False, -7, b"\x01\xff", moment)],
                         ['["b",true]', '["b",false]', '["i",-7]', '["y","01ff"]',
                          '["t",1000005]'])
        self.assertRaises(InvalidValueError, values.dumps, datetime(1970, 1, 1))

    def test_tags_tell_bool_from_int_and_text_from_bytes(self) -> None:
        self.assertEqual(values.encode(True), ["b", True])
        self.assertEqual(values.encode(1), ["i", 1])
        self.assertEqual(values.encode("ab"), ["s", "ab"])
        self.assertEqual(values.encode(b"ab"), ["y", "6162"])
        self.assertEqual(values.encode(2**64), ["I", str(2**64)])

    def test_datetimes_are_microseconds_since_the_epoch(self) -> None:
        moment = datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=timezone.utc)
        self.assertEqual(values.encode(moment), ["t", 1_000_005])
        self.assertRaises(InvalidValueError, values.encode, datetime(1970, 1, 1))

    def test_index_key_of_structures_is_their_identifying_field(self) -> None:
        self.assertEqual(values.index_key("Name", {"NameValue": "k1", "NameType": 1}), ("s", "k1"))
        link = {"LinkType": 0x103, "LinkedObjectIdentifier": "u"}
        self.assertEqual(values.index_key("Link", link), ("s", "u"))
        self.assertEqual(values.index_key("x-custom", {"NameValue": "k1"}), ("d", None))
        self.assertEqual(values.index_key("Sensitive", False), ("b", 0))
        self.assertEqual(values.index_key("x-bytes", b"\x00"), ("y", b"\x00"))

    def test_lists_only_inside_structures(self) -> None:
        self.assertRaises(InvalidValueError, values.dumps, [1, 2])
        self.assertEqual(values.loads(values.dumps({"F": [1, 2]})), {"F": [1, 2]})
