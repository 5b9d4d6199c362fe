"""Tests for the stores (kmiphsm.store.sqlite.SqliteStore; with KMIPHSM_TEST_STORE=postgresql
kmiphsm.store.postgres.PostgresStore): storage, transactions, pending objects, Locate."""

from __future__ import annotations

import inspect
import multiprocessing
import os
import stat
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from itertools import count
from typing import Any

from twisted.trial import unittest

from kmiphsm.store import (
    ARCHIVAL_STORAGE,
    DESTROYED_STORAGE,
    ONLINE_STORAGE,
    AttributeFilter,
    AttributeNotFoundError,
    DuplicateObjectError,
    InvalidValueError,
    LocateQuery,
    NestedTransactionError,
    ObjectNotFoundError,
    SqliteStore,
    Store,
    StoredObject,
    sqlite_locate,
)
from kmiphsm.store.postgres import PostgresStore
from tests.support.postgres import new_url, only_sqlite, open_test_store, test_store_kind

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
SYMMETRIC_KEY, PRIVATE_KEY = 2, 4
PRE_ACTIVE, ACTIVE, DESTROYED, DESTROYED_COMPROMISED = 1, 2, 5, 6
AES, RSA = 3, 4
ENCRYPT, DECRYPT, SIGN = 0x4, 0x8, 0x1
LINK_PUBLIC_KEY = 0x103


class StoreTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.store = open_test_store(self.mktemp() + ".db")
        self.addCleanup(self.store.close)
        self._clock = count()

    def make(self, owner: str = "alice", pending: bool = False, **fields: Any) -> StoredObject:
        """Insert an object created one second after the previous one; return it."""
        obj = StoredObject(
            unique_identifier=fields.pop("unique_identifier", None)
            or self.store.new_unique_identifier(),
            object_type=fields.pop("object_type", SYMMETRIC_KEY),
            owner=owner,
            state=fields.pop("state", ACTIVE),
            key_ref=fields.pop("key_ref", None),
            created=fields.pop("created", None) or T0 + timedelta(seconds=next(self._clock)),
            attributes=fields.pop("attributes", {}),
            archived=fields.pop("archived", False),
        )
        self.assertEqual(fields, {})
        self.store.insert(obj, pending=pending)
        return obj

    def locate(self, *filters: AttributeFilter, **query: Any) -> list[str]:
        return self.store.locate(LocateQuery(filters=list(filters), **query))


class InterfaceTests(unittest.TestCase):
    def test_sqlite_store_has_every_method_of_the_port_with_the_same_parameters(self) -> None:
        methods = [name for name in vars(Store) if not name.startswith("_")]
        self.assertIn("locate", methods)
        for name in methods:
            port = inspect.signature(getattr(Store, name))
            for store_class in (SqliteStore, PostgresStore):
                implementation = inspect.signature(getattr(store_class, name))
                self.assertEqual(list(implementation.parameters), list(port.parameters), name)
                for parameter in port.parameters.values():
                    self.assertEqual(
                        implementation.parameters[parameter.name].default, parameter.default,
                        name)


class RoundTripTests(StoreTestCase):
    def assertSameValue(self, got: Any, want: Any) -> None:
        """Equal, and of the same types all the way down (True is not 1)."""
        self.assertEqual(type(got), type(want), f"{got!r} vs {want!r}")
        if isinstance(want, dict):
            self.assertEqual(list(got), list(want))
            for name in want:
                self.assertSameValue(got[name], want[name])
        elif isinstance(want, list):
            self.assertEqual(len(got), len(want))
            for g, w in zip(got, want, strict=True):
                self.assertSameValue(g, w)
        else:
            self.assertEqual(got, want)

    def test_every_value_type_round_trips(self) -> None:
        attributes = {
            "CryptographicAlgorithm": [AES],
            "CryptographicLength": [256],
            "x-negative": [-(2**63), 2**63 - 1, -1, 0],
            "x-big-integer": [2**200, -(2**100)],
            "Sensitive": [True],
            "x-false": [False],
            "x-text": ["", "k1", "ünïcødé ☃", '"quoted" \\ back'],
            "x-bytes": [b"", b"\x00\xff\x80", bytes(range(256))],
            "InitialDate": [datetime(2024, 2, 3, 4, 5, 6, 789012, tzinfo=timezone.utc)],
            "x-old-date": [
                datetime(1, 1, 1, tzinfo=timezone.utc),
                datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
            ],
            "Name": [{"NameValue": "k1", "NameType": 1}, {"NameValue": "k2", "NameType": 2}],
            "Link": [{"LinkType": LINK_PUBLIC_KEY, "LinkedObjectIdentifier": "uid-1"}],
            "x-structure": [
                {
                    "Flag": True,
                    "Count": 1,
                    "Blob": b"\x01",
                    "When": T0,
                    "Inner": {"Deeper": {"Text": "x"}, "Empty": {}},
                    "Repeated": [1, True, "a", b"b", {"F": [2, 3]}, []],
                },
                {},
            ],
        }
        obj = self.make(attributes=attributes, key_ref=b"\x00token\xff")
        got = self.store.get(obj.unique_identifier)
        self.assertIsNotNone(got)
        self.assertSameValue(got.attributes, {n: attributes[n] for n in sorted(attributes)})
        self.assertEqual(got, obj)

    def test_fixed_fields_round_trip(self) -> None:
        created = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
        obj = self.make(
            owner="CN=client,O=Example",
            object_type=PRIVATE_KEY,
            state=PRE_ACTIVE,
            key_ref=b"\x00" * 40,
            created=created,
            archived=True,
        )
        got = self.store.get(obj.unique_identifier)
        self.assertEqual(got, obj)
        self.assertEqual(got.created.tzinfo, timezone.utc)
        self.assertIs(got.archived, True)
        self.assertIsNone(self.store.get(self.make(key_ref=None).unique_identifier).key_ref)

    def test_datetime_in_another_zone_comes_back_as_the_same_instant_in_utc(self) -> None:
        paris = timezone(timedelta(hours=1))
        obj = self.make(attributes={"ActivationDate": [datetime(2024, 1, 1, 13, tzinfo=paris)]})
        (got,) = self.store.get(obj.unique_identifier).attributes["ActivationDate"]
        self.assertEqual(got, datetime(2024, 1, 1, 12, tzinfo=timezone.utc))
        self.assertEqual(got.utcoffset(), timedelta(0))

    def test_unstorable_values_are_rejected_before_writing(self) -> None:
        for bad in (1.5, None, [1, 2], {1: "x"}, datetime(2024, 1, 1), {"F": object()}):
            uid = self.store.new_unique_identifier()
            obj = StoredObject(uid, SYMMETRIC_KEY, "a", ACTIVE, None, T0, {"x-bad": [bad]})
            self.assertRaises(InvalidValueError, self.store.insert, obj)
            self.assertIsNone(self.store.get(uid))

    def test_fields_of_stored_object_are_not_attributes(self) -> None:
        for name in ("State", "ObjectType", "UniqueIdentifier"):
            obj = StoredObject(self.store.new_unique_identifier(), 2, "a", 2, None, T0, {name: [1]})
            self.assertRaises(InvalidValueError, self.store.insert, obj)

    def test_naive_created_is_rejected(self) -> None:
        obj = StoredObject("u", 2, "a", 2, None, datetime(2024, 1, 1), {})
        self.assertRaises(InvalidValueError, self.store.insert, obj)

    def test_get_of_an_unknown_identifier_is_none(self) -> None:
        self.assertIsNone(self.store.get("nope"))

    def test_duplicate_identifier_is_refused(self) -> None:
        obj = self.make()
        self.assertRaises(DuplicateObjectError, self.make, unique_identifier=obj.unique_identifier)

    def test_new_unique_identifiers_differ(self) -> None:
        self.assertEqual(len({self.store.new_unique_identifier() for _ in range(100)}), 100)


class MutationTests(StoreTestCase):
    def test_update_state(self) -> None:
        obj = self.make(state=PRE_ACTIVE)
        self.store.update_state(obj.unique_identifier, ACTIVE)
        self.assertEqual(self.store.get(obj.unique_identifier).state, ACTIVE)

    def test_set_attribute_replaces_every_value(self) -> None:
        obj = self.make(attributes={"ObjectGroup": ["a", "b"], "CryptographicLength": [128]})
        self.store.set_attribute(obj.unique_identifier, "ObjectGroup", ["c"])
        self.store.set_attribute(obj.unique_identifier, "Comment", ["new"])
        self.assertEqual(
            self.store.get(obj.unique_identifier).attributes,
            {"ObjectGroup": ["c"], "CryptographicLength": [128], "Comment": ["new"]},
        )
        self.assertEqual(self.locate(AttributeFilter("ObjectGroup", "a")), [])
        self.assertEqual(self.locate(AttributeFilter("ObjectGroup", "c")), [obj.unique_identifier])

    def test_set_attribute_to_no_values_removes_it(self) -> None:
        obj = self.make(attributes={"ObjectGroup": ["a"]})
        self.store.set_attribute(obj.unique_identifier, "ObjectGroup", [])
        self.assertEqual(self.store.get(obj.unique_identifier).attributes, {})

    def test_delete_attribute_by_index_moves_later_values_down(self) -> None:
        obj = self.make(attributes={"Name": [{"NameValue": n, "NameType": 1} for n in "abc"]})
        self.store.delete_attribute(obj.unique_identifier, "Name", 1)
        names = self.store.get(obj.unique_identifier).attributes["Name"]
        self.assertEqual([n["NameValue"] for n in names], ["a", "c"])
        self.store.delete_attribute(obj.unique_identifier, "Name", 1)
        names = self.store.get(obj.unique_identifier).attributes["Name"]
        self.assertEqual([n["NameValue"] for n in names], ["a"])
        self.assertEqual(self.locate(AttributeFilter("Name", "c")), [])

    def test_delete_attribute_without_index_removes_all_values(self) -> None:
        obj = self.make(attributes={"ObjectGroup": ["a", "b"], "Comment": ["keep"]})
        self.store.delete_attribute(obj.unique_identifier, "ObjectGroup")
        self.assertEqual(self.store.get(obj.unique_identifier).attributes, {"Comment": ["keep"]})

    def test_delete_missing_attribute_or_index_raises(self) -> None:
        obj = self.make(attributes={"ObjectGroup": ["a"]})
        uid = obj.unique_identifier
        delete = self.store.delete_attribute
        self.assertRaises(AttributeNotFoundError, delete, uid, "Comment")
        self.assertRaises(AttributeNotFoundError, delete, uid, "ObjectGroup", 1)
        self.assertRaises(AttributeNotFoundError, delete, uid, "ObjectGroup", -1)
        self.assertRaises(InvalidValueError, delete, uid, "ObjectGroup", "0")
        self.assertEqual(self.store.get(uid).attributes, {"ObjectGroup": ["a"]})

    def test_set_key_ref_and_archived(self) -> None:
        obj = self.make()
        self.store.set_key_ref(obj.unique_identifier, b"wrapped")
        self.store.set_archived(obj.unique_identifier, True)
        got = self.store.get(obj.unique_identifier)
        self.assertEqual((got.key_ref, got.archived), (b"wrapped", True))
        self.store.set_key_ref(obj.unique_identifier, None)
        self.assertIsNone(self.store.get(obj.unique_identifier).key_ref)

    def test_delete_removes_object_and_attributes(self) -> None:
        obj = self.make(attributes={"Name": [{"NameValue": "gone", "NameType": 1}]})
        self.store.delete(obj.unique_identifier)
        self.assertIsNone(self.store.get(obj.unique_identifier))
        self.assertEqual(self.locate(AttributeFilter("Name", "gone")), [])
        self.make(unique_identifier=obj.unique_identifier)  # the identifier is free again

    def test_mutating_an_unknown_object_raises(self) -> None:
        calls = [
            lambda: self.store.update_state("nope", ACTIVE),
            lambda: self.store.set_attribute("nope", "Comment", ["x"]),
            lambda: self.store.delete_attribute("nope", "Comment"),
            lambda: self.store.set_key_ref("nope", b"x"),
            lambda: self.store.set_archived("nope", True),
            lambda: self.store.delete("nope"),
            lambda: self.store.commit_pending("nope"),
        ]
        for call in calls:
            self.assertRaises(ObjectNotFoundError, call)


class TransactionTests(StoreTestCase):
    def test_transaction_commits_all_calls_together(self) -> None:
        with self.store.transaction() as store:
            first = self.make()
            store.set_attribute(first.unique_identifier, "ObjectGroup", ["g"])
            second = self.make()
        self.assertEqual(self.locate(), [second.unique_identifier, first.unique_identifier])
        self.assertEqual(self.store.get(first.unique_identifier).attributes, {"ObjectGroup": ["g"]})

    def test_exception_rolls_back_every_call(self) -> None:
        kept = self.make(state=PRE_ACTIVE)

        class Boom(Exception):
            pass

        with self.assertRaises(Boom):
            with self.store.transaction():
                self.make()
                self.store.update_state(kept.unique_identifier, ACTIVE)
                self.store.set_attribute(kept.unique_identifier, "Comment", ["x"])
                raise Boom()
        self.assertEqual(self.locate(), [kept.unique_identifier])
        self.assertEqual(self.store.get(kept.unique_identifier), kept)

    def test_store_error_inside_transaction_rolls_back(self) -> None:
        kept = self.make()
        with self.assertRaises(ObjectNotFoundError):
            with self.store.transaction():
                self.make()
                self.store.delete("nope")
        self.assertEqual(self.locate(), [kept.unique_identifier])

    def test_failed_call_inside_transaction_leaves_no_partial_write(self) -> None:
        obj = self.make(attributes={"ObjectGroup": ["a", "b"]})

        class DiskError(Exception):
            pass

        with self.store.transaction():
            self.store.set_attribute(obj.unique_identifier, "Comment", ["kept"])
            self.patch(
                sys.modules[type(self.store).__module__],
                "_insert_attributes",
                lambda *args: (_ for _ in ()).throw(DiskError("disk I/O error")),
            )
            with self.assertRaises(DiskError):  # deleted "a" and "b", then failed
                self.store.delete_attribute(obj.unique_identifier, "ObjectGroup", 0)
        self.assertEqual(
            self.store.get(obj.unique_identifier).attributes,
            {"ObjectGroup": ["a", "b"], "Comment": ["kept"]},
        )

    def test_an_insert_whose_attributes_fail_leaves_no_object_in_the_transaction(self) -> None:
        only_sqlite("PostgreSQL writes an object and its attributes in one statement")

        class DiskError(Exception):
            pass

        with self.store.transaction():
            kept = self.make()
            with self.patch_failing_attributes(DiskError):
                self.assertRaises(DiskError, self.make, unique_identifier="lost",
                                  attributes={"ObjectGroup": ["a"]})
            again = self.make(unique_identifier="lost")  # the identifier is free again
        self.assertEqual(sorted(self.locate()), sorted([kept.unique_identifier,
                                                        again.unique_identifier]))
        self.assertEqual(self.store.get("lost").attributes, {})

    def patch_failing_attributes(self, error: type[Exception]) -> Any:
        module = sys.modules[type(self.store).__module__]
        original = module._insert_attributes

        @contextmanager
        def patched() -> Iterator[None]:
            module._insert_attributes = lambda *args: (_ for _ in ()).throw(error("disk I/O"))
            try:
                yield
            finally:
                module._insert_attributes = original

        return patched()

    def test_a_value_the_store_refuses_leaves_the_transaction_usable(self) -> None:
        # PostgreSQL text cannot hold NUL: refused before the database would abort the
        # transaction (SQLite stores it)
        with self.store.transaction():
            kept = self.make()
            try:
                self.make(attributes={"Comment": ["a\x00b"]})
            except InvalidValueError:
                pass
            self.store.set_attribute(kept.unique_identifier, "Comment", ["after"])
        self.assertEqual(self.store.get(kept.unique_identifier).attributes, {"Comment": ["after"]})

    def test_nested_transaction_raises_and_outer_one_still_commits(self) -> None:
        with self.store.transaction():
            obj = self.make()
            with self.assertRaises(NestedTransactionError):
                with self.store.transaction():
                    pass
        self.assertEqual(self.locate(), [obj.unique_identifier])

    def test_other_threads_do_not_see_uncommitted_writes(self) -> None:
        seen: list[Any] = []
        with self.store.transaction():
            obj = self.make()
            self.assertIsNotNone(self.store.get(obj.unique_identifier))
            reader = lambda: seen.append(self.store.get(obj.unique_identifier))  # noqa: E731
            thread = threading.Thread(target=reader)
            thread.start()
            thread.join()
        self.assertEqual(seen, [None])
        self.assertIsNotNone(self.store.get(obj.unique_identifier))

    def test_store_can_be_used_again_after_transaction(self) -> None:
        with self.store.transaction():
            pass
        with self.store.transaction():
            obj = self.make()
        self.assertIsNotNone(self.store.get(obj.unique_identifier))

    def test_threads_inserting_at_once_lose_nothing(self) -> None:
        errors: list[BaseException] = []
        uids: list[str] = []
        lock = threading.Lock()

        def work() -> None:
            try:
                for _ in range(40):
                    with self.store.transaction():
                        obj = self.make(attributes={"ObjectGroup": ["threads"]})
                        self.store.set_attribute(obj.unique_identifier, "Comment", ["x"])
                    with lock:
                        uids.append(obj.unique_identifier)
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        found = self.locate(AttributeFilter("ObjectGroup", "threads"))
        self.assertEqual(sorted(found), sorted(uids))
        self.assertEqual(len(uids), 240)


class InsertManyTests(StoreTestCase):
    def objects(self, count: int, **fields: Any) -> list[StoredObject]:
        return [StoredObject(
            unique_identifier=self.store.new_unique_identifier(), object_type=SYMMETRIC_KEY,
            owner=fields.get("owner", "alice"), state=ACTIVE, key_ref=bytes([n]) * 40,
            created=T0 + timedelta(seconds=n), scope=fields.get("scope"),
            archived=fields.get("archived", False),
            attributes={"Name": [{"NameValue": f"bulk-{n}", "NameType": 1}],
                        "CryptographicAlgorithm": [AES], "CryptographicLength": [128 + n],
                        "ObjectGroup": ["g", f"g{n}"], "InitialDate": [T0],
                        "Digest": [{"HashingAlgorithm": 6, "DigestValue": bytes([n, 1, 2])}]})
            for n in range(count)]

    def test_every_object_comes_back_whole_and_is_found_by_its_attributes(self) -> None:
        objects = self.objects(5, scope="team-a")
        self.store.insert_many(objects)
        for obj in objects:
            self.assertEqual(self.store.get(obj.unique_identifier), obj)
        self.assertEqual(self.locate(AttributeFilter("Name", {"NameValue": "bulk-3"})),
                         [objects[3].unique_identifier])
        self.assertEqual(sorted(self.locate(AttributeFilter("ObjectGroup", "g"))),
                         sorted(obj.unique_identifier for obj in objects))
        self.assertEqual(self.locate(AttributeFilter("CryptographicLength", 130)),
                         [objects[2].unique_identifier])

    def test_a_taken_identifier_inserts_none_of_them(self) -> None:
        taken = self.make()
        objects = self.objects(3)
        objects[1] = StoredObject(**{**vars(objects[1]),
                                     "unique_identifier": taken.unique_identifier})
        self.assertRaises(DuplicateObjectError, self.store.insert_many, objects)
        for obj in (objects[0], objects[2]):
            self.assertIsNone(self.store.get(obj.unique_identifier))
        self.assertEqual(self.store.get(taken.unique_identifier), taken)
        self.assertEqual(self.locate(AttributeFilter("ObjectGroup", "g")), [])

    def test_the_same_identifier_twice_inserts_none(self) -> None:
        first, second = self.objects(2)
        second = StoredObject(**{**vars(second), "unique_identifier": first.unique_identifier})
        self.assertRaises(DuplicateObjectError, self.store.insert_many, [first, second])
        self.assertIsNone(self.store.get(first.unique_identifier))

    def test_inside_a_transaction_it_rolls_back_with_it(self) -> None:
        objects = self.objects(2)

        class Boom(Exception):
            pass

        def insert_then_fail() -> None:
            with self.store.transaction():
                self.store.insert_many(objects)
                raise Boom()

        self.assertRaises(Boom, insert_then_fail)
        self.assertIsNone(self.store.get(objects[0].unique_identifier))

    def test_a_bad_value_is_refused_before_anything_is_written(self) -> None:
        objects = self.objects(2)
        objects[1].attributes["Bad"] = [object()]
        self.assertRaises(InvalidValueError, self.store.insert_many, objects)
        self.assertIsNone(self.store.get(objects[0].unique_identifier))

    def test_no_objects_is_nothing_to_do(self) -> None:
        self.store.insert_many([])
        self.assertEqual(self.locate(), [])


class PendingTests(StoreTestCase):
    def test_pending_object_is_invisible_until_committed(self) -> None:
        obj = self.make(pending=True, attributes={"Name": [{"NameValue": "p", "NameType": 1}]})
        uid = obj.unique_identifier
        self.assertIsNone(self.store.get(uid))
        self.assertEqual(self.locate(), [])
        self.assertEqual(self.locate(AttributeFilter("Name", "p")), [])
        self.assertEqual(self.store.locate_page(LocateQuery()), ([], 0))
        self.assertEqual([p.unique_identifier for p in self.store.list_pending()], [uid])

        self.store.set_key_ref(uid, b"token-object")
        self.store.commit_pending(uid)
        obj.key_ref = b"token-object"
        self.assertEqual(self.store.get(uid), obj)
        self.assertEqual(self.locate(AttributeFilter("Name", "p")), [uid])
        self.assertEqual(self.store.list_pending(), [])
        self.store.commit_pending(uid)  # a second commit does nothing

    def test_list_pending_returns_whole_objects(self) -> None:
        obj = self.make(pending=True, key_ref=b"r", attributes={"CryptographicLength": [256]})
        self.make()
        self.assertEqual(self.store.list_pending(), [obj])

    def test_pending_object_can_be_discarded(self) -> None:
        obj = self.make(pending=True)
        self.store.delete(obj.unique_identifier)
        self.assertEqual(self.store.list_pending(), [])

    def test_all_key_refs_lists_every_object_with_a_reference(self) -> None:
        a = self.make(key_ref=b"a")
        self.make(key_ref=None)
        p = self.make(key_ref=b"p", pending=True)
        self.assertEqual(
            self.store.all_key_refs(), [(a.unique_identifier, b"a"), (p.unique_identifier, b"p")]
        )


class LocateTests(StoreTestCase):
    def test_no_filter_returns_everything_newest_first(self) -> None:
        older = self.make(created=T0)
        newer = self.make(created=T0 + timedelta(days=1))
        self.assertEqual(self.locate(), [newer.unique_identifier, older.unique_identifier])

    def test_same_creation_time_orders_by_insertion_newest_first(self) -> None:
        uids = [self.make(created=T0).unique_identifier for _ in range(5)]
        self.assertEqual(self.locate(), uids[::-1])

    def test_equality_on_an_enumeration(self) -> None:
        aes = self.make(attributes={"CryptographicAlgorithm": [AES]})
        self.make(attributes={"CryptographicAlgorithm": [RSA]})
        self.make()
        found = self.locate(AttributeFilter("CryptographicAlgorithm", AES))
        self.assertEqual(found, [aes.unique_identifier])

    def test_cryptographic_length(self) -> None:
        short = self.make(attributes={"CryptographicLength": [128]})
        self.make(attributes={"CryptographicLength": [256]})
        found = self.locate(AttributeFilter("CryptographicLength", 128))
        self.assertEqual(found, [short.unique_identifier])

    def test_name_matches_by_name_value(self) -> None:
        k1 = self.make(attributes={"Name": [{"NameValue": "k1", "NameType": 1}]})
        self.make(attributes={"Name": [{"NameValue": "k2", "NameType": 1}]})
        self.make(attributes={"x-custom": ["k1"]})
        for wanted in ("k1", {"NameValue": "k1"}, {"NameValue": "k1", "NameType": 1}):
            self.assertEqual(self.locate(AttributeFilter("Name", wanted)), [k1.unique_identifier])
        wrong_type = {"NameValue": "k1", "NameType": 2}
        self.assertEqual(self.locate(AttributeFilter("Name", wrong_type)), [])

    def test_object_with_several_names_is_found_by_each(self) -> None:
        obj = self.make(attributes={"Name": [{"NameValue": n, "NameType": 1} for n in ("a", "b")]})
        for name in ("a", "b"):
            self.assertEqual(self.locate(AttributeFilter("Name", name)), [obj.unique_identifier])

    def test_structure_fields_left_out_are_wildcards(self) -> None:
        def link(link_type: int, uid: str) -> dict[str, list[Any]]:
            return {"Link": [{"LinkType": link_type, "LinkedObjectIdentifier": uid}]}

        public = self.make(attributes=link(LINK_PUBLIC_KEY, "pub"))
        parent = self.make(attributes=link(0x109, "pub"))
        self.make(attributes=link(LINK_PUBLIC_KEY, "other"))
        self.assertEqual(
            self.locate(AttributeFilter("Link", {"LinkedObjectIdentifier": "pub"})),
            [parent.unique_identifier, public.unique_identifier],
        )
        self.assertEqual(
            self.locate(
                AttributeFilter(
                    "Link", {"LinkedObjectIdentifier": "pub", "LinkType": LINK_PUBLIC_KEY}
                )
            ),
            [public.unique_identifier],
        )
        found = self.locate(AttributeFilter("Link", {"LinkType": LINK_PUBLIC_KEY}))
        self.assertEqual(len(found), 2)

    def test_custom_structure_with_nested_fields_and_lists(self) -> None:
        value = {"Owner": {"Team": "red", "Ids": [1, 2]}, "Flag": True, "Blob": b"\x01"}
        match = self.make(attributes={"x-meta": [value]})
        distractors: list[tuple[str, list[int], Any]] = [
            ("blue", [1, 2], True),
            ("red", [1], True),
            ("red", [1, 2, 3], True),
        ]
        for team, ids, flag in distractors + [("red", [1, 2], 1)]:
            self.make(attributes={"x-meta": [{"Owner": {"Team": team, "Ids": ids}, "Flag": flag}]})
        uid = match.unique_identifier
        self.assertEqual(self.locate(AttributeFilter("x-meta", value)), [uid])
        without_blob = {"Owner": {"Team": "red", "Ids": [1, 2]}, "Flag": True}
        self.assertEqual(self.locate(AttributeFilter("x-meta", without_blob)), [uid])
        self.assertEqual(self.locate(AttributeFilter("x-meta", {"Blob": b"\x01"})), [uid])
        self.assertEqual(len(self.locate(AttributeFilter("x-meta", {"Owner": {"Team": "red"}}))), 4)
        self.assertEqual(len(self.locate(AttributeFilter("x-meta", {}))), 5)

    def test_custom_attributes_of_each_scalar_type(self) -> None:
        objs = {
            "text": self.make(attributes={"x-custom": ["1"]}),
            "int": self.make(attributes={"x-custom": [1]}),
            "bool": self.make(attributes={"x-custom": [True]}),
            "bytes": self.make(attributes={"x-custom": [b"1"]}),
            "big": self.make(attributes={"x-custom": [2**70]}),
            "other name": self.make(attributes={"x-other": ["1"]}),
        }
        wanted = {"text": "1", "int": 1, "bool": True, "bytes": b"1", "big": 2**70}
        for kind, value in wanted.items():
            found = self.locate(AttributeFilter("x-custom", value))
            self.assertEqual(found, [objs[kind].unique_identifier], kind)

    def test_usage_mask_needs_every_requested_bit(self) -> None:
        both = self.make(attributes={"CryptographicUsageMask": [ENCRYPT | DECRYPT]})
        encrypt = self.make(attributes={"CryptographicUsageMask": [ENCRYPT]})
        self.make(attributes={"CryptographicUsageMask": [SIGN]})
        self.make()
        mask = AttributeFilter("CryptographicUsageMask", ENCRYPT | DECRYPT)
        self.assertEqual(self.locate(mask), [both.unique_identifier])
        self.assertEqual(
            self.locate(AttributeFilter("CryptographicUsageMask", ENCRYPT)),
            [encrypt.unique_identifier, both.unique_identifier],
        )

    def test_usage_limits_must_be_at_least_the_requested_ones(self) -> None:
        def limits(total: int, count_: int) -> dict[str, list[Any]]:
            value = {"UsageLimitsTotal": total, "UsageLimitsCount": count_, "UsageLimitsUnit": 2}
            return {"UsageLimits": [value]}

        plenty = self.make(attributes=limits(100, 50))
        self.make(attributes=limits(100, 5))
        self.make(attributes=limits(5, 5))
        wanted = {"UsageLimitsTotal": 10, "UsageLimitsCount": 10, "UsageLimitsUnit": 2}
        found = self.locate(AttributeFilter("UsageLimits", wanted))
        self.assertEqual(found, [plenty.unique_identifier])

    def test_state(self) -> None:
        active = self.make(state=ACTIVE)
        self.make(state=PRE_ACTIVE)
        self.assertEqual(self.locate(AttributeFilter("State", ACTIVE)), [active.unique_identifier])

    def test_object_type_by_query_field_and_by_filter(self) -> None:
        private = self.make(object_type=PRIVATE_KEY)
        symmetric = self.make(object_type=SYMMETRIC_KEY)
        uid = private.unique_identifier
        self.assertEqual(self.locate(object_types=[PRIVATE_KEY]), [uid])
        self.assertEqual(self.locate(AttributeFilter("ObjectType", PRIVATE_KEY)), [uid])
        self.assertEqual(
            self.locate(object_types=[PRIVATE_KEY, SYMMETRIC_KEY]),
            [symmetric.unique_identifier, uid],
        )
        self.assertEqual(self.locate(object_types=[]), [])

    def test_unique_identifier(self) -> None:
        obj = self.make()
        self.make()
        found = self.locate(AttributeFilter("UniqueIdentifier", obj.unique_identifier))
        self.assertEqual(found, [obj.unique_identifier])

    def test_object_group(self) -> None:
        grouped = self.make(attributes={"ObjectGroup": ["payments", "prod"]})
        self.make(attributes={"ObjectGroup": ["prod"]})
        found = self.locate(AttributeFilter("ObjectGroup", "payments"))
        self.assertEqual(found, [grouped.unique_identifier])

    def test_one_date_is_an_exact_match(self) -> None:
        day = T0 + timedelta(days=10)
        exact = self.make(attributes={"ActivationDate": [day]})
        self.make(attributes={"ActivationDate": [day + timedelta(microseconds=1)]})
        self.make(attributes={"DeactivationDate": [day]})
        found = self.locate(AttributeFilter("ActivationDate", day))
        self.assertEqual(found, [exact.unique_identifier])

    def test_two_dates_are_an_inclusive_range(self) -> None:
        def at(days: int) -> StoredObject:
            return self.make(attributes={"ActivationDate": [T0 + timedelta(days=days)]})

        before, start, inside, end, after = at(0), at(1), at(2), at(3), at(4)
        range_ = [AttributeFilter("ActivationDate", T0 + timedelta(days=d)) for d in (3, 1)]
        found = self.locate(*range_)
        self.assertEqual(found, [obj.unique_identifier for obj in (end, inside, start)])
        self.assertEqual(self.store.locate_page(LocateQuery())[1], 5)
        del before, after

    def test_three_dates_of_one_attribute_are_refused(self) -> None:
        filters = [AttributeFilter("ActivationDate", T0 + timedelta(days=d)) for d in range(3)]
        self.assertRaises(InvalidValueError, self.locate, *filters)

    def test_several_values_of_one_attribute_must_all_be_present(self) -> None:
        both = self.make(attributes={"ObjectGroup": ["a", "b"]})
        self.make(attributes={"ObjectGroup": ["a"]})
        self.make(attributes={"ObjectGroup": ["b"]})
        filters = [AttributeFilter("ObjectGroup", "a"), AttributeFilter("ObjectGroup", "b")]
        self.assertEqual(self.locate(*filters), [both.unique_identifier])

    def test_filters_are_anded(self) -> None:
        attributes = {
            "CryptographicAlgorithm": [AES],
            "CryptographicLength": [256],
            "ObjectGroup": ["g"],
        }
        match = self.make(attributes=attributes)
        for name in attributes:  # each distractor misses one of the three
            self.make(attributes={n: v for n, v in attributes.items() if n != name})
        filters = [AttributeFilter(n, v[0]) for n, v in attributes.items()]
        self.assertEqual(self.locate(*filters), [match.unique_identifier])

    def test_unknown_value_matches_nothing(self) -> None:
        self.make(attributes={"Name": [{"NameValue": "k1", "NameType": 1}]})
        self.assertEqual(self.locate(AttributeFilter("Name", "missing")), [])
        self.assertEqual(self.locate(AttributeFilter("x-never-set", 1)), [])

    def test_owner_sees_only_own_objects_and_admin_sees_all(self) -> None:
        shared = {"Name": [{"NameValue": "shared", "NameType": 1}]}
        mine = self.make(owner="alice", attributes=shared).unique_identifier
        theirs = self.make(owner="bob", attributes=shared).unique_identifier
        by_name = AttributeFilter("Name", "shared")
        self.assertEqual(self.locate(owner="alice"), [mine])
        self.assertEqual(self.locate(by_name, owner="alice"), [mine])
        self.assertEqual(self.locate(by_name, owner="bob"), [theirs])
        self.assertEqual(self.locate(owner="carol"), [])
        self.assertEqual(self.locate(owner=None), [theirs, mine])
        self.assertEqual(self.locate(by_name), [theirs, mine])

    def test_storage_status_mask(self) -> None:
        online = self.make(state=ACTIVE).unique_identifier
        archived = self.make(archived=True).unique_identifier
        destroyed = self.make(state=DESTROYED).unique_identifier
        compromised = self.make(state=DESTROYED_COMPROMISED).unique_identifier
        self.assertEqual(self.locate(), [online])
        self.assertEqual(self.locate(storage_status=ONLINE_STORAGE), [online])
        self.assertEqual(self.locate(storage_status=ARCHIVAL_STORAGE), [archived])
        self.assertEqual(self.locate(storage_status=DESTROYED_STORAGE), [compromised, destroyed])
        self.assertEqual(
            self.locate(storage_status=ONLINE_STORAGE | ARCHIVAL_STORAGE | DESTROYED_STORAGE),
            [compromised, destroyed, archived, online],
        )
        self.assertRaises(InvalidValueError, self.locate, storage_status=0x10)

    def test_offset_then_maximum(self) -> None:
        uids = [self.make().unique_identifier for _ in range(6)][::-1]
        self.assertEqual(self.locate(maximum_items=2), uids[:2])
        self.assertEqual(self.locate(offset_items=2), uids[2:])
        self.assertEqual(self.locate(offset_items=1, maximum_items=3), uids[1:4])
        self.assertEqual(self.locate(offset_items=10), [])
        self.assertEqual(self.locate(maximum_items=0), [])
        self.assertRaises(InvalidValueError, self.locate, maximum_items=-1)

    def test_a_page_counts_every_match_whatever_its_offset_and_maximum(self) -> None:
        group = [self.make(attributes={"ObjectGroup": ["g"]}).unique_identifier
                 for _ in range(5)][::-1]  # newest first
        self.make()
        in_group = [AttributeFilter("ObjectGroup", "g")]

        def page(offset: int, maximum: int | None) -> tuple[list[str], int]:
            query = LocateQuery(filters=in_group, offset_items=offset, maximum_items=maximum)
            found = self.store.locate_page(query)
            self.assertEqual(found[0], self.store.locate(query))  # the same page as locate
            return found

        self.assertEqual(page(1, 2), (group[1:3], 5))
        self.assertEqual(page(0, None), (group, 5))
        self.assertEqual(page(3, None), (group[3:], 5))
        self.assertEqual(page(4, 10), (group[4:], 5))
        # empty pages still count: past the last match, or no room at all
        self.assertEqual(page(5, 2), ([], 5))
        self.assertEqual(page(0, 0), ([], 5))
        nothing = LocateQuery(filters=[AttributeFilter("ObjectGroup", "none")], offset_items=2,
                              maximum_items=1)
        self.assertEqual(self.store.locate_page(nothing), ([], 0))
        everyone = LocateQuery(offset_items=1, maximum_items=1)  # no indexed condition
        self.assertEqual(self.store.locate_page(everyone), (self.store.locate(everyone), 6))

    def test_bad_filters_are_refused(self) -> None:
        for bad in (
            AttributeFilter("CryptographicUsageMask", True),
            AttributeFilter("State", "active"),
            AttributeFilter("UniqueIdentifier", 1),
            AttributeFilter("x-custom", 1.5),
            AttributeFilter("x-custom", {'quo"te': 1}),
            AttributeFilter("UsageLimits", {"UsageLimitsTotal": "many"}),
        ):
            self.assertRaises(InvalidValueError, self.locate, bad)

    def test_index_driven_and_scanning_plans_agree(self) -> None:
        """Both query shapes (drive by the key index, or walk newest first) give one answer."""
        for i in range(30):
            self.make(
                owner="alice" if i % 3 else "bob",
                attributes={
                    "CryptographicAlgorithm": [AES if i % 2 else RSA],
                    "ObjectGroup": ["g%d" % (i % 4)],
                    "CryptographicUsageMask": [ENCRYPT | (DECRYPT if i % 5 else 0)],
                    "ActivationDate": [T0 + timedelta(days=i)],
                },
            )
        queries = [
            LocateQuery(
                filters=[AttributeFilter("CryptographicAlgorithm", AES)],
                maximum_items=4,
                offset_items=2,
            ),
            LocateQuery(
                owner="alice", filters=[AttributeFilter("ObjectGroup", "g1")], maximum_items=3
            ),
            LocateQuery(filters=[AttributeFilter("CryptographicUsageMask", DECRYPT)]),
            LocateQuery(
                filters=[
                    AttributeFilter("CryptographicAlgorithm", RSA),
                    AttributeFilter("ObjectGroup", "g2"),
                    AttributeFilter("CryptographicUsageMask", DECRYPT),
                    AttributeFilter("ActivationDate", T0),
                    AttributeFilter("ActivationDate", T0 + timedelta(days=20)),
                ],
                maximum_items=10,
            ),
        ]
        only_sqlite("the choice of a driving condition is SQLite's query plan")
        driven = [self.store.locate(q) for q in queries]
        self.patch(sqlite_locate, "PROBE_LIMIT", 1)  # every candidate now looks too common
        scanned = [self.store.locate(q) for q in queries]
        self.assertEqual(driven, scanned)
        self.assertTrue(all(driven))

    def traced_statements(self) -> list[str]:
        """The SQL statements the store runs from now on (SQLite's trace callback)."""
        statements: list[str] = []
        acquire = self.store._acquire  # type: ignore[attr-defined]  # noqa: SLF001

        def traced() -> Any:
            conn = acquire()
            conn.set_trace_callback(statements.append)
            return conn
        self.patch(self.store, "_acquire", traced)
        return statements

    def test_a_locate_by_one_name_is_one_select(self) -> None:
        """No BEGIN / COMMIT around a Locate (its answer is one SELECT, its own snapshot) and
        no probe when one indexed condition is the only possible driver; still exact, in a
        transaction too, and empty for a name nobody has."""
        only_sqlite("the statements SQLite runs")
        wanted = self.make(attributes={"Name": [{"NameValue": "k1", "NameType": 1}]})
        self.make(attributes={"Name": [{"NameValue": "k2", "NameType": 1}]})
        statements = self.traced_statements()
        by_name = AttributeFilter("Name", {"NameValue": "k1", "NameType": 1})
        self.assertEqual(self.locate(by_name), [wanted.unique_identifier])
        self.assertEqual(len(statements), 1, statements)
        self.assertTrue(statements[0].startswith("SELECT o.uid FROM"), statements)
        self.assertEqual(self.locate(AttributeFilter("Name", {"NameValue": "none",
                                                              "NameType": 1})), [])
        with self.store.transaction():
            self.assertEqual(self.locate(by_name), [wanted.unique_identifier])

    def test_a_full_page_and_its_count_are_one_select(self) -> None:
        """A paged Locate whose page is full needs every match counted (Located Items): the
        count rides on the page's rows, no second SELECT over the matches."""
        only_sqlite("the statements SQLite runs")
        group = [self.make(attributes={"ObjectGroup": ["g"]}).unique_identifier
                 for _ in range(5)][::-1]
        statements = self.traced_statements()
        query = LocateQuery(filters=[AttributeFilter("ObjectGroup", "g")], maximum_items=2)
        self.assertEqual(self.store.locate_page(query), (group[:2], 5))
        self.assertEqual(len(statements), 1, statements)
        self.assertTrue(statements[0].startswith("SELECT o.uid, count(*) OVER () FROM"))


def _open(target: str) -> Any:
    """The store at ``target``: a PostgreSQL URL or an SQLite file."""
    if target.startswith("postgresql:"):
        return PostgresStore(target)
    return SqliteStore(target, busy_timeout=60)


def _insert_many(target: str, tag: str, how_many: int) -> None:
    """Run in a spawned process: insert ``how_many`` objects, half of them in transactions."""
    with _open(target) as store:
        for i in range(how_many):
            obj = StoredObject(
                unique_identifier=f"{tag}-{i}",
                object_type=SYMMETRIC_KEY,
                owner=tag,
                state=ACTIVE,
                key_ref=f"{tag}-{i}".encode(),
                created=datetime.now(timezone.utc),
                attributes={
                    "Name": [{"NameValue": f"{tag}-{i}", "NameType": 1}],
                    "ObjectGroup": ["mp"],
                },
            )
            if i % 2:
                store.insert(obj)
            else:
                with store.transaction():
                    store.insert(obj, pending=True)
                    store.commit_pending(obj.unique_identifier)


class MultiProcessTests(unittest.TestCase):
    def test_two_processes_inserting_into_one_file_lose_nothing(self) -> None:
        path = os.path.abspath(self.mktemp() + ".db")
        if test_store_kind() == "postgresql":
            path = new_url()
        _open(path).close()
        context = multiprocessing.get_context("spawn")
        per_process = 300
        workers = [
            context.Process(target=_insert_many, args=(path, tag, per_process))
            for tag in ("p1", "p2")
        ]
        for worker in workers:
            worker.start()
        with _open(path) as reader:  # reads go on, unblocked, while both processes write
            in_group = LocateQuery(filters=[AttributeFilter("ObjectGroup", "mp")])
            while any(worker.is_alive() for worker in workers):
                seen = reader.locate(in_group)
                self.assertGreaterEqual(reader.locate_page(in_group)[1], len(seen))
                if seen:
                    self.assertIsNotNone(reader.get(seen[-1]))
        for worker in workers:
            worker.join(120)
        self.assertEqual([worker.exitcode for worker in workers], [0, 0])
        with _open(path) as store:
            found = store.locate(LocateQuery(filters=[AttributeFilter("ObjectGroup", "mp")]))
            expected = {f"{tag}-{i}" for tag in ("p1", "p2") for i in range(per_process)}
            self.assertEqual(len(found), len(expected))
            self.assertEqual(set(found), expected)
            self.assertEqual(len(store.all_key_refs()), len(expected))
            self.assertEqual(store.list_pending(), [])
            by_name = LocateQuery(filters=[AttributeFilter("Name", "p2-7")])
            self.assertEqual(store.locate(by_name), ["p2-7"])


class FilePermissionTests(unittest.TestCase):
    def test_the_database_and_its_companions_are_private_to_the_owner(self) -> None:
        only_sqlite("file permissions")
        previous = os.umask(0o022)  # a usual umask, which would make files world-readable
        self.addCleanup(os.umask, previous)
        path = self.mktemp() + ".db"
        store = SqliteStore(path)
        self.addCleanup(store.close)
        store.insert(StoredObject(unique_identifier="private", object_type=SYMMETRIC_KEY,
                                  owner="alice", state=ACTIVE, key_ref=None, created=T0,
                                  attributes={}))
        for name in (path, path + "-wal", path + "-shm", path + ".writers"):
            self.assertTrue(os.path.exists(name), name)
            self.assertEqual(0o600, stat.S_IMODE(os.stat(name).st_mode), name)
