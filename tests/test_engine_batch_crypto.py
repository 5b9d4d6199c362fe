"""The keyed cryptographic items of one message share their per-key work
(kmiphsm.engine.crypto.key_in_use) and draw their IVs from the token in one call
(kmiphsm.hsm.RandomReserve), and each still gets the answer it would get alone."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from kmiphsm.engine import Identity
from kmiphsm.engine.access import Decision
from kmiphsm.model.values import plain
from kmiphsm.store import Grant
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import PAST, EngineCase

Op = enums.Operation
Reason = enums.ResultReason
Status = enums.ResultStatus
Continuation = enums.BatchErrorContinuationOption
GCM = {"BlockCipherMode": enums.BlockCipherMode.GCM, "TagLength": 16}
CBC = {"BlockCipherMode": enums.BlockCipherMode.CBC,
       "PaddingMethod": enums.PaddingMethod.PKCS5}


def encrypt(uid: str | None, data: bytes, params: dict[str, Any] | None = None,
            **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if uid is not None:
        payload["UniqueIdentifier"] = uid
    if params is not None:
        payload["CryptographicParameters"] = params
    if data:
        payload["Data"] = data
    payload.update(fields)
    return payload


def answers(response: Node) -> list[tuple[int, int | None, str | None, dict[str, Any]]]:
    """(status, reason, message, payload) of each item."""
    out = []
    for item in response.children(tags.BatchItem):
        payload = item.child(tags.ResponsePayload)
        out.append((item.get(tags.ResultStatus), item.get(tags.ResultReason),
                    item.get(tags.ResultMessage), plain(payload) if payload is not None else {}))
    return out


class Draws:
    """A spy on the token's random number generator calls made through
    ``CryptoOperations.generate_random`` (those of a RandomReserve)."""

    def __init__(self, case: EngineCase) -> None:
        operations = case.h.token.operations  # type: ignore[attr-defined]
        original = operations.generate_random
        self.drawn: list[bytes] = []

        def spy(length: int) -> bytes:
            value: bytes = original(length)
            self.drawn.append(value)
            return value

        case.patch(operations, "generate_random", spy)


class BatchEncryptsShareTheirKeyWork(EngineCase):

    def continuing(self, *items: tuple[int, Any], identity: Any = "alice") -> list[Any]:
        return answers(self.h.message(
            *items, identity=identity,
            header={"BatchErrorContinuationOption": Continuation.Continue}))

    def decrypt(self, uid: str, answer: dict[str, Any], params: dict[str, Any],
                iv: bytes | None = None) -> bytes:
        fields: dict[str, Any] = {"IVCounterNonce": iv or answer["IVCounterNonce"]}
        if "AuthenticatedEncryptionTag" in answer:
            fields["AuthenticatedEncryptionTag"] = answer["AuthenticatedEncryptionTag"]
        result = self.h.call(Op.Decrypt, encrypt(uid, answer["Data"], params, **fields))
        data: bytes = result["Data"]
        return data

    def test_ten_encrypts_draw_their_ivs_from_the_token_in_one_call(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        plaintexts = [os.urandom(64) for _ in range(10)]
        draws = Draws(self)
        results = self.continuing(*[(Op.Encrypt, encrypt(uid, data, GCM))
                                    for data in plaintexts])
        self.assertEqual([r[:2] for r in results], [(Status.Success, None)] * 10)
        ivs = [r[3]["IVCounterNonce"] for r in results]
        # one C_GenerateRandom of 10 GCM IVs, each IV a slice of it, none given twice
        self.assertEqual([len(d) for d in draws.drawn], [120])
        self.assertEqual(b"".join(ivs), draws.drawn[0])
        self.assertEqual(len(set(ivs)), 10)
        for data, result in zip(plaintexts, results, strict=True):
            self.assertEqual(self.decrypt(uid, result[3], GCM), data)

    def test_the_key_is_checked_once_per_question_asked_of_it(self) -> None:
        from kmiphsm.engine import crypto

        first = self.h.create_aes(ActivationDate=PAST)
        second = self.h.create_aes(ActivationDate=PAST)
        checked: list[str] = []
        real = crypto.use_key

        def counting(context: Any, uid: Any, *args: Any, **kwargs: Any) -> Any:
            checked.append(uid)
            return real(context, uid, *args, **kwargs)

        self.patch(crypto, "use_key", counting)
        results = self.continuing(*[(Op.Encrypt, encrypt(first, b"x" * 16, GCM))] * 6,
                                  (Op.Encrypt, encrypt(second, b"x" * 16, GCM)),
                                  (Op.Encrypt, encrypt(first, b"x" * 16, CBC)),
                                  (Op.Encrypt, encrypt(first, b"x" * 16, GCM)))
        self.assertEqual([r[0] for r in results], [Status.Success] * 9)
        self.assertEqual(checked, [first, second, first])

    def test_a_run_of_encrypts_with_one_key_is_one_call_of_the_token(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        other = self.h.create_aes(ActivationDate=PAST)
        token = self.h.token
        calls: list[tuple[str, int]] = []
        for name in ("encrypt", "encrypt_many"):
            real = getattr(token, name)

            def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                calls.append((_name, len(args[2]) if _name == "encrypt_many" else 1))
                return _real(*args, **kwargs)

            self.patch(token, name, spy)
        plaintexts = [os.urandom(30) for _ in range(8)]
        items = ([(uid, GCM)] * 4 + [(other, GCM)] + [(uid, CBC)] * 2 + [(uid, GCM)])
        results = self.continuing(*[(Op.Encrypt, encrypt(key, data, params))
                                    for (key, params), data in zip(items, plaintexts,
                                                                   strict=True)])
        self.assertEqual([r[0] for r in results], [Status.Success] * 8)
        self.assertEqual(calls, [("encrypt_many", 4), ("encrypt", 1), ("encrypt_many", 2),
                                 ("encrypt", 1)])
        for (key, params), data, result in zip(items, plaintexts, results, strict=True):
            self.assertEqual(self.decrypt(key, result[3], params), data)

    def test_an_item_of_a_run_fails_alone_and_its_neighbours_succeed(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        items = [(Op.Encrypt, encrypt(uid, b"a" * 16, CBC, IVCounterNonce=bytes(16))),
                 (Op.Encrypt, encrypt(uid, b"b" * 16, CBC, IVCounterNonce=b"short")),
                 (Op.Encrypt, encrypt(uid, b"c" * 16, CBC)),
                 (Op.Encrypt, encrypt(uid, b"", CBC)),  # no Data: not asked ahead
                 (Op.Encrypt, encrypt(uid, b"e" * 16, CBC))]
        together = self.continuing(*items)
        self.assertEqual([r[:2] for r in together],
                         [(Status.Success, None),
                          (Status.OperationFailed, Reason.BadCryptographicParameters),
                          (Status.Success, None),
                          (Status.OperationFailed, Reason.InvalidField),
                          (Status.Success, None)])
        alone = [answers(self.h.message(item))[0] for item in items]
        self.assertEqual([r[:3] for r in together], [r[:3] for r in alone])
        self.assertEqual(together[0][3]["Data"], alone[0][3]["Data"])  # the same IV given
        stopped = answers(self.h.message(*items))
        self.assertEqual([r[:2] for r in stopped],
                         [(Status.Success, None),
                          (Status.OperationFailed, Reason.BadCryptographicParameters)])

    def test_a_single_encrypt_draws_its_iv_as_it_encrypts(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        draws = Draws(self)
        result = self.h.call(Op.Encrypt, encrypt(uid, b"x" * 64, GCM))
        self.assertEqual(len(result["IVCounterNonce"]), 12)
        self.assertEqual(draws.drawn, [])  # no reserve: the token's own call in its session

    def test_items_with_other_keys_modes_and_ivs_each_get_their_own_answer(self) -> None:
        first = self.h.create_aes(ActivationDate=PAST)
        second = self.h.create_aes(128, ActivationDate=PAST)
        given_iv = os.urandom(12)
        long_iv = dict(GCM, IVLength=128)
        items = [(first, GCM, {}), (second, GCM, {}), (first, CBC, {}),
                 (first, GCM, {"IVCounterNonce": given_iv}), (second, long_iv, {}),
                 (first, GCM, {}), (second, CBC, {})]
        plaintexts = [os.urandom(40 + n) for n in range(len(items))]
        results = self.continuing(*[(Op.Encrypt, encrypt(uid, data, params, **fields))
                                    for (uid, params, fields), data in zip(items, plaintexts,
                                                                           strict=True)])
        self.assertEqual([r[:2] for r in results], [(Status.Success, None)] * len(items))
        lengths = [len(r[3].get("IVCounterNonce", b"")) for r in results]
        self.assertEqual(lengths, [12, 12, 16, 0, 16, 12, 16])
        returned = [r[3]["IVCounterNonce"] for r in results if "IVCounterNonce" in r[3]]
        self.assertEqual(len(set(returned)), len(returned))
        for (uid, params, fields), data, result in zip(items, plaintexts, results, strict=True):
            self.assertEqual(result[3]["UniqueIdentifier"], uid)
            self.assertEqual(self.decrypt(uid, result[3], params, fields.get("IVCounterNonce")),
                             data)

    def test_each_item_fails_as_it_would_alone(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        pre_active = self.h.create_aes()
        no_encrypt = self.h.create_aes(ActivationDate=PAST, CryptographicUsageMask=int(
            enums.CryptographicUsageMask.Decrypt))
        items = [
            (Op.Encrypt, encrypt(uid, b"a" * 16, GCM)),
            (Op.Encrypt, encrypt(uid, b"", GCM)),  # no Data
            (Op.Encrypt, encrypt(pre_active, b"b" * 16, GCM)),
            (Op.Encrypt, encrypt(pre_active, b"b" * 16, GCM)),  # failures are not remembered
            (Op.Encrypt, encrypt("no-such-key", b"c" * 16, GCM)),
            (Op.Encrypt, encrypt(no_encrypt, b"d" * 16, GCM)),
            (Op.Encrypt, encrypt(uid, b"e" * 16, dict(GCM, TagLength=3))),
            (Op.Encrypt, encrypt(uid, b"f" * 16, CBC, IVCounterNonce=b"short")),
            (Op.Encrypt, encrypt(uid, b"g" * 16, GCM)),
            (Op.Decrypt, encrypt(uid, b"h" * 32, GCM, IVCounterNonce=bytes(12),
                                 AuthenticatedEncryptionTag=bytes(16))),
        ]
        together = self.continuing(*items)
        alone = [answers(self.h.message(item))[0] for item in items]
        self.assertEqual([r[:3] for r in together], [r[:3] for r in alone])
        self.assertEqual([r[0] for r in together],
                         [Status.Success] + [Status.OperationFailed] * 7
                         + [Status.Success, Status.OperationFailed])

    def test_stop_after_a_failure_returns_nothing_after_it(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        results = answers(self.h.message(
            (Op.Encrypt, encrypt(uid, b"a" * 16, GCM)), (Op.Encrypt, encrypt(uid, b"", GCM)),
            (Op.Encrypt, encrypt(uid, b"c" * 16, GCM))))
        self.assertEqual([r[:2] for r in results],
                         [(Status.Success, None), (Status.OperationFailed, Reason.InvalidField)])

    def test_the_id_placeholder_names_the_key_of_every_item(self) -> None:
        data = [b"one" * 5, b"two" * 5]
        results = self.continuing(
            (Op.Create, {"ObjectType": enums.ObjectType.SymmetricKey, "Attributes": {
                "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                "CryptographicLength": 256, "ActivationDate": PAST,
                "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt
                                              | enums.CryptographicUsageMask.Decrypt)}}),
            *[(Op.Encrypt, encrypt(None, one, GCM)) for one in data])
        uid = results[0][3]["UniqueIdentifier"]
        self.assertEqual([r[3].get("UniqueIdentifier") for r in results], [uid] * 3)
        for one, result in zip(data, results[1:], strict=True):
            self.assertEqual(self.decrypt(uid, result[3], GCM), one)

    def test_each_item_records_its_access_decisions(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        self.h.store.add_grants([Grant("alice", uid, "bob", "encrypt")])
        seen: list[Decision] = []
        self.h.engine.access_observer = seen.append
        results = self.continuing(*[(Op.Encrypt, encrypt(uid, b"x" * 16, GCM))] * 4,
                                  identity=Identity("bob"))
        self.assertEqual([r[0] for r in results], [Status.Success] * 4)
        self.assertEqual(seen, [Decision("bob", "encrypt", uid, True, "grant")] * 4)

    def test_a_key_that_deactivates_between_two_items_is_refused_from_then_on(self) -> None:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        uid = self.h.create_aes(ActivationDate=PAST, DeactivationDate=now + timedelta(hours=1))
        moments = [now]
        self.h.engine.clock = lambda: moments[-1]

        def observer(decision: Decision) -> None:
            # the second item's decision: from then on, past the Deactivation Date
            if decision.unique_identifier == uid and len(calls) == 1:
                moments.append(now + timedelta(hours=2))
            calls.append(decision)

        calls: list[Decision] = []
        self.h.engine.access_observer = observer
        results = self.continuing(*[(Op.Encrypt, encrypt(uid, b"x" * 16, GCM))] * 3)
        self.assertEqual([r[:2] for r in results],
                         [(Status.Success, None), (Status.Success, None),
                          (Status.OperationFailed, Reason.WrongKeyLifecycleState)])
        self.assertEqual(self.stored(uid).state, enums.State.Deactivated)

    def test_a_revoke_between_two_items_is_seen_by_the_next(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        revoke = {"UniqueIdentifier": uid, "RevocationReason": {
            "RevocationReasonCode": enums.RevocationReasonCode.KeyCompromise}}
        results = self.continuing((Op.Encrypt, encrypt(uid, b"x" * 16, GCM)),
                                  (Op.Encrypt, encrypt(uid, b"x" * 16, GCM)),
                                  (Op.Revoke, revoke),
                                  (Op.Encrypt, encrypt(uid, b"x" * 16, GCM)),
                                  (Op.Decrypt, encrypt(uid, b"x" * 32, GCM,
                                                       IVCounterNonce=bytes(12),
                                                       AuthenticatedEncryptionTag=bytes(16))))
        self.assertEqual([r[:2] for r in results],
                         [(Status.Success, None)] * 3
                         + [(Status.OperationFailed, Reason.WrongKeyLifecycleState),
                            # Compromised keys may still process: the tag is wrong
                            (Status.OperationFailed, Reason.CryptographicFailure)])

    def test_macs_of_one_key_share_its_checks_and_stay_right(self) -> None:
        uid = self.create(CryptographicAlgorithm=enums.CryptographicAlgorithm.HMAC_SHA256,
                          CryptographicLength=256, ActivationDate=PAST,
                          CryptographicUsageMask=int(enums.CryptographicUsageMask.MACGenerate
                                                     | enums.CryptographicUsageMask.MACVerify))
        data = [os.urandom(20) for _ in range(3)]
        results = self.continuing(*[(Op.MAC, {"UniqueIdentifier": uid, "Data": one})
                                    for one in data])
        alone = [self.h.call(Op.MAC, {"UniqueIdentifier": uid, "Data": one}) for one in data]
        self.assertEqual([r[3]["MACData"] for r in results], [a["MACData"] for a in alone])
