"""Server policy on new objects (Lease Time, Protection Storage Mask) and Obtain Lease
(KMIP 2.1 sections 4.30, 4.44, 6.1.35)."""

from __future__ import annotations

from twisted.trial import unittest

from kmiphsm import config as configuration
from kmiphsm.server.service import object_policy
from kmiphsm.ttlv import enums
from tests.support.engine import EngineHarness

Op = enums.Operation
Reason = enums.ResultReason
PSM = enums.ProtectionStorageMask


class PolicyFromConfigTests(unittest.TestCase):
    def test_softhsm_is_software_and_lease_from_config(self) -> None:
        config = configuration.Config(
            server=configuration.ServerConfig(lease_time=600),
            pkcs11=configuration.PKCS11Config(module="/usr/lib/softhsm/libsofthsm2.so"))
        self.assertEqual(object_policy(config), {"LeaseTime": [600],
                                                 "ProtectionStorageMask": [PSM.Software]})

    def test_other_modules_are_hardware_and_zero_lease_sets_none(self) -> None:
        config = configuration.Config(
            server=configuration.ServerConfig(lease_time=0),
            pkcs11=configuration.PKCS11Config(module="/opt/hsm/libcloudhsm_pkcs11.so"))
        self.assertEqual(object_policy(config), {"ProtectionStorageMask": [PSM.Hardware]})

    def test_bad_values_are_config_errors(self) -> None:
        for data in ({"server": {"lease_time": -1}},
                     {"pkcs11": {"protection_storage": "cloud"}}):
            self.assertRaises(configuration.ConfigError, configuration.parse, data)


class ObtainLeaseTests(unittest.TestCase):
    def setUp(self) -> None:
        self.harness = EngineHarness(self, object_policy={
            "LeaseTime": [3600], "ProtectionStorageMask": [int(PSM.Software)]})

    def test_new_key_carries_the_policy_and_lease_renews(self) -> None:
        uid = self.harness.create_aes()
        attributes = self.harness.call(Op.GetAttributes, {"UniqueIdentifier": uid})["Attributes"]
        self.assertEqual(attributes["LeaseTime"], 3600)
        self.assertEqual(attributes["ProtectionStorageMask"], PSM.Software)
        lease = self.harness.call(Op.ObtainLease, {"UniqueIdentifier": uid})
        self.assertEqual(lease["LeaseTime"], 3600)
        self.assertEqual(lease["LastChangeDate"], attributes["LastChangeDate"])

    def test_no_lease_for_others_or_destroyed_objects(self) -> None:
        uid = self.harness.create_aes()
        self.assertEqual(self.harness.failure(Op.ObtainLease, {"UniqueIdentifier": uid},
                                              identity="bob").reason, Reason.ObjectNotFound)
        self.harness.call(Op.Destroy, {"UniqueIdentifier": uid})
        self.assertEqual(self.harness.failure(Op.ObtainLease, {"UniqueIdentifier": uid}).reason,
                         Reason.ObjectDestroyed)
        self.assertEqual(self.harness.failure(Op.ObtainLease, {"UniqueIdentifier": "nope"}).reason,
                         Reason.ObjectNotFound)
