"""An engine test case for Certify and Validate: key pairs, certificates issued in the
token, their links, and ``openssl verify`` when it is installed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support.engine import PAST, EngineHarness

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Usage = enums.CryptographicUsageMask
PEM = serialization.Encoding.PEM


def link(link_type: int, uid: str) -> dict[str, Any]:
    return {"LinkType": link_type, "LinkedObjectIdentifier": uid}


class CertifyBase(unittest.TestCase):
    def setUp(self) -> None:
        self.h = EngineHarness(self)

    def pair(self, algorithm: int = Alg.RSA, length: int = 2048, curve: int | None = None,
             active: bool = True, private_usage: int = int(Usage.Sign),
             identity: str = "alice") -> tuple[str, str]:
        """A key pair: (private, public) Unique Identifiers; the private key Active."""
        common: dict[str, Any] = {"CryptographicAlgorithm": algorithm,
                                  "CryptographicLength": length}
        if curve is not None:
            common["CryptographicDomainParameters"] = {"RecommendedCurve": curve}
        private: dict[str, Any] = {"CryptographicUsageMask": private_usage}
        if active:
            private["ActivationDate"] = PAST
        result = self.h.call(Op.CreateKeyPair, {
            "CommonAttributes": common, "PrivateKeyAttributes": private,
            "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify)}},
            identity=identity)
        return result["PrivateKeyUniqueIdentifier"], result["PublicKeyUniqueIdentifier"]

    def certify(self, public_uid: str | None, cn: str, *links: dict[str, Any],
                identity: str = "alice", **attributes: Any) -> str:
        payload: dict[str, Any] = {"Attributes": {"CertificateSubjectCN": cn, **attributes}}
        if links:
            payload["Attributes"]["Link"] = list(links)
        if public_uid is not None:
            payload["UniqueIdentifier"] = public_uid
        return self.h.call(Op.Certify, payload, identity=identity)["UniqueIdentifier"]

    def certificate(self, uid: str) -> x509.Certificate:
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid})
        self.assertEqual(got["ObjectType"], OT.Certificate)
        return x509.load_der_x509_certificate(got["Certificate"]["CertificateValue"])

    def public_key(self, uid: str) -> Any:
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid})
        return serialization.load_der_public_key(got["PublicKey"]["KeyBlock"]["KeyValue"]
                                                 ["KeyMaterial"])

    def links(self, uid: str) -> dict[int, list[str]]:
        result: dict[int, list[str]] = {}
        for value in self.h.store.get(uid).attributes.get("Link", []):
            result.setdefault(value["LinkType"], []).append(value["LinkedObjectIdentifier"])
        return result

    def root(self, cn: str = "Test Root", algorithm: int = Alg.RSA, length: int = 2048,
             curve: int | None = None) -> tuple[str, str, str]:
        """A self-signed root: (private, public, certificate) Unique Identifiers."""
        private, public = self.pair(algorithm, length, curve)
        return private, public, self.certify(public, cn)

    def openssl_verify(self, root: x509.Certificate, leaf: x509.Certificate) -> None:
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("no openssl command")
        directory = Path(tempfile.mkdtemp(prefix="kmiphsm-certify-"))
        (directory / "root.pem").write_bytes(root.public_bytes(PEM))
        (directory / "leaf.pem").write_bytes(leaf.public_bytes(PEM))
        done = subprocess.run(["openssl", "verify", "-CAfile", str(directory / "root.pem"),
                               str(directory / "leaf.pem")], capture_output=True, text=True,
                              check=False)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        shutil.rmtree(directory)
