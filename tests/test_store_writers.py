"""Writers of one store file queue on an flock before SQLite's own lock (store/sqlite.py
WriteQueue), so a writer waits for the one before it instead of sleeping in SQLite's
busy handler."""

from __future__ import annotations

import fcntl
import os
import threading
from datetime import datetime, timezone

from twisted.trial import unittest

from kmiphsm.store import SqliteStore, StoredObject


class WriteQueueTests(unittest.TestCase):
    def test_a_write_waits_while_another_process_holds_the_queue(self) -> None:
        path = os.path.abspath(self.mktemp() + ".db")
        store = SqliteStore(path)
        self.addCleanup(store.close)
        store.insert(StoredObject("k1", 2, "alice", 1, None, datetime.now(timezone.utc), {}))
        # another open file description of the lock file stands for another process
        other = os.open(path + ".writers", os.O_RDWR | os.O_CREAT, 0o600)
        self.addCleanup(os.close, other)
        fcntl.flock(other, fcntl.LOCK_EX)
        done = threading.Event()
        writer = threading.Thread(target=lambda: (store.update_state("k1", 2), done.set()))
        writer.start()
        self.assertFalse(done.wait(0.3), "the write did not wait for the queue")
        fcntl.flock(other, fcntl.LOCK_UN)
        self.assertTrue(done.wait(10), "the write did not go on once the queue was free")
        writer.join()
        self.assertEqual(store.get("k1").state, 2)
        self.assertIsNotNone(store.get("k1"))

    def test_reads_do_not_queue(self) -> None:
        path = os.path.abspath(self.mktemp() + ".db")
        store = SqliteStore(path)
        self.addCleanup(store.close)
        store.insert(StoredObject("k1", 2, "alice", 1, None, datetime.now(timezone.utc), {}))
        other = os.open(path + ".writers", os.O_RDWR | os.O_CREAT, 0o600)
        self.addCleanup(os.close, other)
        fcntl.flock(other, fcntl.LOCK_EX)
        self.addCleanup(fcntl.flock, other, fcntl.LOCK_UN)
        self.assertEqual(store.get("k1").owner, "alice")
