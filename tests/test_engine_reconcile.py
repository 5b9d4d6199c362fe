"""The start-up reconciliation of store and token (:func:`kmiphsm.engine.reconcile.reconcile`):
what a crash can leave behind, and what reconcile makes of it.

These tests use the test process's shared SoftHSM token. Reconcile destroys only its own
store's orphans, so each test first destroys by hand every persistent key earlier tests left
(finished by then: trial runs one test at a time) to start from a token its store agrees with.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from twisted.trial import unittest

from kmiphsm.engine.reconcile import (
    Reconciliation,
    destroy_orphans,
    reconcile,
    reconcile_dead_worker,
)
from kmiphsm.hsm import (
    KeyAlgorithm,
    KeyClass,
    KeyRef,
    Storage,
    TokenError,
    created_by,
    lifecycle,
    store_tag,
    tag_of,
)
from kmiphsm.hsm.keyref import new_token_id
from kmiphsm.store import StoredObject
from kmiphsm.ttlv import enums
from tests.support.engine import EngineHarness

State = enums.State


@contextmanager
def captured_logs(name: str = "kmiphsm") -> Iterator[list[logging.LogRecord]]:
    """The records logged under ``name`` in the block, kept off stderr."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(name)
    handler, propagate = Keep(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class ReconcileCase(unittest.TestCase):

    def setUp(self) -> None:
        self.harness = EngineHarness(self)
        self.store = self.harness.store
        self.token = self.harness.token
        # start from a token this store agrees with: destroy what earlier tests left (the
        # keys of their stores, which this store's reconcile leaves alone)
        # (secret keys, and private keys of pairs; a CKA_ID may name more than one object)
        for key_id in self.token.list_persistent_ids():
            for key_class in KeyClass:
                ref = KeyRef(Storage.TOKEN_OBJECT, key_class, KeyAlgorithm.AES, 0, key_id)
                while self.token.exists(ref):
                    try:
                        self.token.destroy(ref)
                    except TokenError:
                        break
        self.assertEqual(self.token.list_persistent_ids(), set())

    def reconcile(self) -> Reconciliation:
        with captured_logs() as self.logged:
            return reconcile(self.store, self.token)

    def persistent_key(self) -> KeyRef:
        """A non-extractable AES key in the token, referenced by nothing."""
        return self.token.generate_secret(KeyAlgorithm.AES, 256, extractable=False)

    def ref(self, uid: str) -> KeyRef:
        obj = self.store.get(uid)
        assert obj is not None and obj.key_ref is not None
        return KeyRef.from_bytes(obj.key_ref)


class ReconcileTests(ReconcileCase):
    def test_an_orphan_persistent_object_is_destroyed(self) -> None:
        # a crash after the token made the key and before the store had the object
        orphan = self.persistent_key()
        self.assertIn(orphan.token_id, self.token.list_persistent_ids())
        report = self.reconcile()
        self.assertEqual(report, Reconciliation(orphans_destroyed=1))
        self.assertFalse(self.token.exists(orphan))
        self.assertNotIn(orphan.token_id, self.token.list_persistent_ids())

    def made_by(self, pid: int) -> None:
        """Persistent keys made from now on carry ``pid`` as their creator."""
        self.patch(lifecycle, "new_token_id",
                   lambda tag=b"": new_token_id(pid, tag))

    def test_a_dead_workers_orphans_go_and_nobody_elses(self) -> None:
        """Defect 8: a worker restarted after kill -9 cleans what its predecessor left while
        the other workers are creating keys of their own."""
        self.made_by(4242)  # the worker that will die
        dead_orphan = self.persistent_key()
        acknowledged = self.harness.create_aes(Extractable=False)
        self.made_by(4243)  # a live worker, half-way through a Create
        in_flight = self.persistent_key()
        self.assertTrue(created_by(dead_orphan.token_id or b"", 4242))
        with captured_logs() as logged:
            report = reconcile_dead_worker(self.store, self.token, [4242])
        self.assertEqual(report, Reconciliation(orphans_destroyed=1))
        self.assertIn("dead worker", logged[0].getMessage())
        self.assertFalse(self.token.exists(dead_orphan))
        self.assertTrue(self.token.exists(in_flight))
        self.assertTrue(self.token.exists(self.ref(acknowledged)))
        self.assertEqual(reconcile_dead_worker(self.store, self.token, [4242]),
                         Reconciliation())

    def test_with_other_nodes_a_dead_workers_orphans_wait_for_the_grace(self) -> None:
        """Several nodes on one token: a pid of this machine may be a live process's on
        another, so a restarted worker only names the candidates; destroy_orphans takes
        them once the grace has passed (server/service.py schedules it)."""
        self.made_by(4244)
        orphan = self.persistent_key()
        report = reconcile_dead_worker(self.store, self.token, [4244], grace=600)
        self.assertEqual(report.orphan_candidates, {orphan.token_id})
        self.assertEqual(report.orphans_destroyed, 0)
        self.assertTrue(self.token.exists(orphan))
        self.assertEqual(destroy_orphans(self.store, self.token, report.orphan_candidates), 1)
        self.assertFalse(self.token.exists(orphan))

    def test_referenced_keys_are_kept(self) -> None:
        persistent = self.harness.create_aes(Extractable=False)
        wrapped = self.harness.create_aes()
        before = {uid: self.store.get(uid) for uid in (persistent, wrapped)}
        report = self.reconcile()
        self.assertEqual(report, Reconciliation())
        for uid, obj in before.items():
            self.assertEqual(self.store.get(uid), obj)
            self.assertTrue(self.token.exists(self.ref(uid)))

    def test_a_pending_object_is_removed_with_its_key(self) -> None:
        key = self.persistent_key()
        moment = datetime(2030, 1, 1, tzinfo=timezone.utc)
        self.store.insert(StoredObject(
            unique_identifier="pending-1", object_type=enums.ObjectType.SymmetricKey,
            owner="alice", state=State.PreActive, key_ref=key.to_bytes(), created=moment,
            attributes={"InitialDate": [moment]}), pending=True)
        report = self.reconcile()
        self.assertEqual(report, Reconciliation(pending_removed=1))
        self.assertEqual(self.store.list_pending(), [])
        self.assertFalse(self.token.exists(key))

    def test_an_object_whose_key_is_missing_is_reported(self) -> None:
        uid = self.harness.create_aes(Extractable=False)
        ref = self.ref(uid)
        self.token.destroy(ref)  # behind the store's back
        report = self.reconcile()
        self.assertEqual(report, Reconciliation(missing_keys=[uid]))
        self.assertIn(uid, "".join(r.getMessage() for r in self.logged))
        obj = self.store.get(uid)
        assert obj is not None
        self.assertEqual(obj.key_ref, ref.to_bytes())  # reported, not guessed at
        self.assertEqual(obj.state, State.PreActive)

    def test_a_destroy_cut_short_is_finished(self) -> None:
        # Destroy's first step (the store says Destroyed) happened, its second did not
        persistent = self.harness.create_aes(Extractable=False)
        wrapped = self.harness.create_aes()
        refs = {uid: self.ref(uid) for uid in (persistent, wrapped)}
        for uid in refs:
            self.store.update_state(uid, State.Destroyed)
        report = self.reconcile()
        self.assertEqual(report, Reconciliation(destructions_finished=2))
        self.assertFalse(self.token.exists(refs[persistent]))
        for uid in refs:
            obj = self.store.get(uid)
            assert obj is not None
            self.assertIsNone(obj.key_ref)
            self.assertEqual(obj.state, State.Destroyed)

    def test_a_second_reconcile_finds_nothing(self) -> None:
        self.persistent_key()
        uid = self.harness.create_aes(Extractable=False)
        self.store.update_state(uid, State.DestroyedCompromised)
        self.assertNotEqual(self.reconcile(), Reconciliation())
        self.assertEqual(self.reconcile(), Reconciliation())


class OtherNodesServingTests(ReconcileCase):
    """``grace``: another node shares the store and token and may be half-way through a
    Create (its key made, its object not yet committed) while this one starts."""

    def test_a_key_of_a_create_in_progress_elsewhere_survives(self) -> None:
        in_flight = self.persistent_key()  # another node's Create, before its store commit
        with captured_logs():
            report = reconcile(self.store, self.token, grace=600)
        # (keys earlier tests left that this token cannot destroy may be candidates too)
        self.assertIn(in_flight.token_id, report.orphan_candidates)
        self.assertEqual(report.orphans_destroyed, 0)
        self.assertTrue(self.token.exists(in_flight))
        # the other node commits its object; the delayed pass leaves the key alone
        self.store.insert(StoredObject(
            unique_identifier="elsewhere", object_type=enums.ObjectType.SymmetricKey,
            owner="alice", state=State.PreActive, key_ref=in_flight.to_bytes(),
            created=datetime.now(timezone.utc), attributes={}))
        self.assertEqual(destroy_orphans(self.store, self.token, report.orphan_candidates), 0)
        self.assertTrue(self.token.exists(in_flight))

    def test_an_orphan_still_unreferenced_after_the_grace_is_destroyed(self) -> None:
        orphan = self.persistent_key()
        with captured_logs():
            report = reconcile(self.store, self.token, grace=600)
            self.assertEqual(destroy_orphans(self.store, self.token, report.orphan_candidates), 1)
        self.assertFalse(self.token.exists(orphan))

    def test_only_pending_objects_older_than_the_grace_are_removed(self) -> None:
        now = datetime.now(timezone.utc)
        for uid, created in (("young", now - timedelta(seconds=5)),
                             ("old", now - timedelta(seconds=3600))):
            self.store.insert(StoredObject(
                unique_identifier=uid, object_type=enums.ObjectType.SymmetricKey,
                owner="alice", state=State.PreActive, key_ref=None, created=created,
                attributes={}), pending=True)
        with captured_logs():
            report = reconcile(self.store, self.token, grace=600, now=now)
        self.assertEqual((report.pending_removed, report.pending_kept), (1, 1))
        self.assertEqual([obj.unique_identifier for obj in self.store.list_pending()], ["young"])


class OtherStoresTests(ReconcileCase):
    """A token holding another store's keys: a store not yet restored, a new or mistyped
    ``[store] path``, a PostgreSQL URL naming a fresh database. Reconcile on such a store
    must destroy none of them (it used to destroy every unreferenced persistent key)."""

    def other_store(self) -> EngineHarness:
        """Store B, empty, on the same token; the token tags new keys with A's tag again."""
        other = EngineHarness(self)
        self.token.set_store_tag(store_tag(self.store.store_identifier()))
        return other

    def test_an_empty_store_destroys_none_of_another_stores_keys(self) -> None:
        keys = [self.harness.create_aes(Extractable=False) for _ in range(3)]
        own_orphan = self.persistent_key()  # A's crash orphan, tagged A
        refs = [self.ref(uid) for uid in keys]
        b = self.other_store()
        self.assertNotEqual(b.store.store_identifier(), self.store.store_identifier())
        with captured_logs() as logged:
            report = reconcile(b.store, self.token)
        self.assertEqual(report, Reconciliation(orphans_left=4))
        self.assertIn("4 persistent token object(s) belong to no object of this store: left "
                      "alone", "".join(r.getMessage() for r in logged))
        for ref in refs + [own_orphan]:
            self.assertTrue(self.token.exists(ref))
        # A's own reconcile still takes A's crash orphan, and only it
        report = self.reconcile()
        self.assertEqual(report, Reconciliation(orphans_destroyed=1))
        self.assertFalse(self.token.exists(own_orphan))
        for uid, ref in zip(keys, refs, strict=True):
            self.assertTrue(self.token.exists(ref))
            self.assertEqual(self.harness.call(enums.Operation.Check,
                                               {"UniqueIdentifier": uid})["UniqueIdentifier"],
                             uid)

    def test_new_persistent_keys_carry_their_stores_tag(self) -> None:
        uid = self.harness.create_aes(Extractable=False)
        tag = store_tag(self.store.store_identifier())
        self.assertEqual(tag_of(self.ref(uid).token_id or b""), tag)
        self.assertEqual(tag_of(self.persistent_key().token_id or b""), tag)

    def test_an_untagged_legacy_orphan_is_kept_and_reported(self) -> None:
        self.patch(lifecycle, "new_token_id", lambda tag=b"": new_token_id())  # old layout
        legacy = self.persistent_key()
        self.assertIsNone(tag_of(legacy.token_id or b""))
        report = self.reconcile()
        self.assertEqual(report, Reconciliation(orphans_left=1))
        self.assertTrue(self.token.exists(legacy))
        self.assertIn("left alone", "".join(r.getMessage() for r in self.logged))

    def test_a_dead_worker_of_another_store_keeps_its_keys(self) -> None:
        """Same pid, two stores on one token: a restarted worker of A takes A's orphan of
        that pid, not B's, nor an untagged one of that pid."""
        b = EngineHarness(self)  # the token tags with B now
        self.patch(lifecycle, "new_token_id", lambda tag=b"": new_token_id(4250, tag))
        b_orphan = self.persistent_key()
        self.token.set_store_tag(store_tag(self.store.store_identifier()))
        a_orphan = self.persistent_key()
        self.patch(lifecycle, "new_token_id", lambda tag=b"": new_token_id(4250))
        legacy = self.persistent_key()
        with captured_logs():
            report = reconcile_dead_worker(self.store, self.token, [4250])
        self.assertEqual(report, Reconciliation(orphans_destroyed=1, orphans_left=2))
        self.assertFalse(self.token.exists(a_orphan))
        self.assertTrue(self.token.exists(b_orphan))
        self.assertTrue(self.token.exists(legacy))
        del b

    def test_with_a_grace_another_stores_keys_are_no_candidates(self) -> None:
        a_orphan = self.persistent_key()
        b = EngineHarness(self)
        b_key = self.persistent_key()  # tagged B, referenced by nothing of A
        with captured_logs():
            report = reconcile(self.store, self.token, grace=600)
            self.assertEqual(report.orphan_candidates, {a_orphan.token_id})
            self.assertEqual(report.orphans_left, 1)
            # even named as a candidate, B's key is not destroyed by A's delayed pass
            self.assertEqual(destroy_orphans(self.store, self.token,
                                             {a_orphan.token_id or b"", b_key.token_id or b""}),
                             1)
        self.assertFalse(self.token.exists(a_orphan))
        self.assertTrue(self.token.exists(b_key))
        del b
