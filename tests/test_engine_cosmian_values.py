"""Values only Cosmian KMS names keep their answers although they are not enum members.

Cosmian's spellings (``ttlv/data/cosmian-names.json``) are input spellings of the codecs,
not members of :mod:`kmiphsm.ttlv.enums`; the values among them that KMIP leaves to
extensions (Cosmian's Ed25519 curve, its CoverCrypt algorithm) are plain ints to the
engine. Engine on a real SoftHSM token (:class:`tests.support.engine.EngineHarness`).
"""

from __future__ import annotations

from twisted.trial import unittest

from kmiphsm.ttlv import enums, registry
from tests.support.engine import EngineHarness

Alg = enums.CryptographicAlgorithm
Op = enums.Operation
Reason = enums.ResultReason
COVERCRYPT = registry.enum_value("CryptographicAlgorithm", "CoverCrypt")
COSMIAN_ED25519_CURVE = registry.enum_value("RecommendedCurve", "CURVEED25519")


class CosmianExtensionValues(unittest.TestCase):
    def setUp(self) -> None:
        self.harness = EngineHarness(self)

    def test_the_values_are_not_members(self) -> None:
        self.assertNotIn(COVERCRYPT, enums.CryptographicAlgorithm._value2member_map_)
        self.assertNotIn(COSMIAN_ED25519_CURVE, enums.RecommendedCurve._value2member_map_)

    def test_ed25519_pair_on_cosmian_curve(self) -> None:
        result = self.harness.call(Op.CreateKeyPair, {"CommonAttributes": {
            "CryptographicAlgorithm": Alg.Ed25519, "RecommendedCurve": COSMIAN_ED25519_CURVE}})
        self.assertIn("PrivateKeyUniqueIdentifier", result)

    def test_a_named_algorithm_this_server_cannot_make_is_cryptographic_failure(self) -> None:
        failure = self.harness.failure(Op.Create, {
            "ObjectType": enums.ObjectType.SymmetricKey,
            "Attributes": {"CryptographicAlgorithm": COVERCRYPT}})
        self.assertEqual(failure.reason, Reason.CryptographicFailure, failure.message)

    def test_an_algorithm_nothing_names_is_invalid_field(self) -> None:
        failure = self.harness.failure(Op.Create, {
            "ObjectType": enums.ObjectType.SymmetricKey,
            "Attributes": {"CryptographicAlgorithm": 0x8FFFFFF0}})
        self.assertEqual(failure.reason, Reason.InvalidField, failure.message)
