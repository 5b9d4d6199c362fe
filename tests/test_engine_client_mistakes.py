"""No client mistake is answered General Failure: a battery of wrong requests through the
engine, in KMIP 2.1 and 1.4, each refused with a reason the client can act on and a Result
Message that says what was wrong.

General Failure (KMIP 2.1 section 11.46, 1.4 section 9.1.3.2.29) means the server failed; a
malformed Cryptographic Parameters value is Bad Cryptographic Parameters (2.1 Tables 197, 216:
the Decrypt and Encrypt errors; Invalid Field in 1.x, whose section 11 has no such reason), a
wrong attribute value Invalid Attribute Value or Invalid Field, an unsupported choice Feature
Not Supported, and so on. Each case also names the reason it expects in 2.1, so a change of
reason is a decision, not an accident. The bare ``/kmip/2_1`` endpoint turns General Failure
into HTTP 500: a bad GCM Tag Length is checked there too.
"""

from __future__ import annotations

import json
import logging

from twisted.trial import unittest

from kmiphsm.engine import Identity
from kmiphsm.model.results import reason_in_version
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.ttlv import enums
from tests.support.engine import EngineHarness, KmipFailure
from tests.support.mistakes import ALL_USES, MISTAKES, PAST

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
R = enums.ResultReason
RC = enums.RecommendedCurve
Usage = enums.CryptographicUsageMask


class ClientMistakes21(unittest.TestCase):
    version = (2, 1)

    def setUp(self) -> None:
        self.h = EngineHarness(self)
        self.keys = self.make_keys()

    def make_keys(self) -> dict[str, str]:
        call = self.h.call
        aes = call(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 256,
            "CryptographicUsageMask": ALL_USES, "ActivationDate": PAST}})["UniqueIdentifier"]
        keys = {"aes": aes}
        for name, common in (("rsa", {"CryptographicAlgorithm": Alg.RSA,
                                      "CryptographicLength": 2048}),
                             ("ec", {"CryptographicAlgorithm": Alg.EC,
                                     "CryptographicDomainParameters": {
                                         "RecommendedCurve": RC.P_256}})):
            made = call(Op.CreateKeyPair, {
                "CommonAttributes": {**common, "ActivationDate": PAST},
                "PrivateKeyAttributes": {"CryptographicUsageMask": ALL_USES},
                "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify
                                                                      | Usage.Encrypt)}})
            keys[f"{name}_private"] = made["PrivateKeyUniqueIdentifier"]
            keys[f"{name}_public"] = made["PublicKeyUniqueIdentifier"]
        return keys

    def test_no_client_mistake_is_a_general_failure(self) -> None:
        # and none is an unexpected exception in a handler (logged with its traceback)
        logged: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = logged.append  # type: ignore[method-assign]
        logger = logging.getLogger("kmiphsm")
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        version = ProtocolVersion(*self.version)
        wrong = []
        for name, (operation, payload, expected) in MISTAKES.items():
            try:
                result = self.h.call(operation, payload(self.keys), version=self.version)
            except KmipFailure as failure:
                answer = (failure.reason, failure.message)
            else:
                wrong.append(f"{name}: succeeded ({result!r:.80})")
                continue
            reason, message = answer
            if reason == R.GeneralFailure or not message:
                wrong.append(f"{name}: General Failure or no message: {answer}")
            elif reason != reason_in_version(expected, version, operation):
                wrong.append(f"{name}: {reason!r} ({message}), expected "
                             f"{R(reason_in_version(expected, version, operation))!r}")
        self.assertEqual(wrong, [])
        self.assertEqual([r.getMessage() for r in logged if r.levelno >= logging.ERROR], [])


class ClientMistakes14(ClientMistakes21):
    version = (1, 4)


class BareEndpointTests(unittest.TestCase):
    """``POST /kmip/2_1`` answers a client's mistake with a 4xx status, never 500."""

    def test_a_bad_gcm_tag_length_is_a_400(self) -> None:
        harness = EngineHarness(self)
        endpoint = KmipEndpoint(harness.engine)
        uid = harness.create_aes()
        harness.call(Op.Activate, {"UniqueIdentifier": uid})
        body = json.dumps({"tag": "Encrypt", "value": [
            {"tag": "UniqueIdentifier", "type": "TextString", "value": uid},
            {"tag": "CryptographicParameters", "value": [
                {"tag": "BlockCipherMode", "type": "Enumeration", "value": "GCM"},
                {"tag": "TagLength", "type": "Integer", "value": 999}]},
            {"tag": "Data", "type": "ByteString", "value": "00"},
            {"tag": "IVCounterNonce", "type": "ByteString", "value": "00" * 12}]})
        status, answer, _ = endpoint.handle_bare_json(body.encode(), Identity("alice"))
        self.assertEqual(status, 400, answer)
        self.assertEqual(json.loads(answer)["ResultReason"], "BadCryptographicParameters")
