"""Seeds the OASIS test cases lack: operations they never send (Derive Key, Certify,
Validate, Export, Import, Re-key, key wrapping on Get, transparent and PKCS#8 key formats)
and the near misses of the engine's client-mistake battery
(:data:`tests.support.mistakes.MISTAKES`), each made concrete against the
objects :func:`make_objects` creates.

Measured with ``coverage``: the test cases alone leave Derive Key, Import/Export,
Certify/Validate and key wrapping at a quarter to a third of their lines.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from kmiphsm.ttlv import Node, enums
from tests.fuzz.corpus import Seed
from tests.support.mistakes import MISTAKES
from tests.support.requests import cosmian_import

__all__ = ["make_objects", "seeds"]

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Usage = enums.CryptographicUsageMask
Fmt = enums.KeyFormatType
BCM = enums.BlockCipherMode

OWNER = "fuzz"
PAST = datetime(2020, 1, 1, tzinfo=timezone.utc)
EVERY_USE = int(Usage.Encrypt | Usage.Decrypt | Usage.MACGenerate | Usage.MACVerify
                | Usage.DeriveKey | Usage.WrapKey | Usage.UnwrapKey | Usage.Sign | Usage.Verify
                | Usage.Export)
#: A fixed EC key and an Ed25519 certificate (deterministic signatures): the same seeds in
#: every run.
EC_KEY = ec.derive_private_key(0x5EED, ec.SECP256R1())
_ED_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
CERTIFICATE = (x509.CertificateBuilder().subject_name(_NAME).issuer_name(_NAME)
               .public_key(_ED_KEY.public_key()).serial_number(19)
               .not_valid_before(PAST).not_valid_after(PAST + timedelta(days=36500))
               .sign(_ED_KEY, None).public_bytes(serialization.Encoding.DER))

Call = Callable[..., dict[str, Any]]


def make_objects(call: Call) -> dict[str, str]:
    """The objects the extra seeds name (``call``: :meth:`EngineHarness.call`): keys of
    :data:`MISTAKES` (``aes``, ``rsa_*``, ``ec_*``), and ``wrapping``, ``hmac``,
    ``certificate``; RSA at 1024 bits like the corpus."""
    def create(**attributes: Any) -> str:
        return call(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicUsageMask": EVERY_USE, "ActivationDate": PAST, **attributes}},
            identity=OWNER)["UniqueIdentifier"]

    objects = {"aes": create(CryptographicAlgorithm=Alg.AES, CryptographicLength=256),
               "wrapping": create(CryptographicAlgorithm=Alg.AES, CryptographicLength=128),
               "hmac": create(CryptographicAlgorithm=Alg.HMAC_SHA256, CryptographicLength=256)}
    for name, common in (("rsa", {"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 1024}),
                         ("ec", {"CryptographicAlgorithm": Alg.EC, "CryptographicDomainParameters": {
                             "RecommendedCurve": enums.RecommendedCurve.P_256}})):
        made = call(Op.CreateKeyPair, {
            "CommonAttributes": {**common, "ActivationDate": PAST},
            "PrivateKeyAttributes": {"CryptographicUsageMask": EVERY_USE},
            "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify | Usage.Encrypt
                                                                   | Usage.WrapKey)}},
            identity=OWNER)
        objects[f"{name}_private"] = made["PrivateKeyUniqueIdentifier"]
        objects[f"{name}_public"] = made["PublicKeyUniqueIdentifier"]
    objects["certificate"] = call(Op.Certify, {"UniqueIdentifier": objects["ec_public"],
                                               "Attributes": {"CertificateSubjectCN": "fuzz"}},
                                  identity=OWNER)["UniqueIdentifier"]
    return objects


def _wrapped_get(key: str, wrapping: str, **parameters: Any) -> Callable[[dict[str, str]], Any]:
    def payload(objects: dict[str, str]) -> dict[str, Any]:
        information: dict[str, Any] = {"UniqueIdentifier": objects[wrapping]}
        if parameters:
            information["CryptographicParameters"] = parameters
        return {"UniqueIdentifier": objects[key], "KeyWrappingSpecification": {
            "WrappingMethod": enums.WrappingMethod.Encrypt, "EncryptionKeyInformation": information}}
    return payload


def _get(key: str, fmt: int) -> Callable[[dict[str, str]], Any]:
    return lambda objects: {"UniqueIdentifier": objects[key], "KeyFormatType": fmt}


def _ec_private() -> bytes:
    return EC_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())


#: name -> (operation, payload given the objects): requests that succeed
VALID: dict[str, tuple[int, Callable[[dict[str, str]], Any]]] = {
    "derive by encryption": (Op.DeriveKey, lambda o: {
        "ObjectType": OT.SymmetricKey, "UniqueIdentifier": o["aes"],
        "DerivationMethod": enums.DerivationMethod.ENCRYPT,
        "DerivationParameters": {"CryptographicParameters": {"BlockCipherMode": BCM.ECB},
                                 "DerivationData": bytes(range(16))},
        "Attributes": {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128}}),
    "certify": (Op.Certify, lambda o: {"UniqueIdentifier": o["ec_public"],
                                       "Attributes": {"CertificateSubjectCN": "again"}}),
    "validate": (Op.Validate, lambda o: {"UniqueIdentifier": [o["certificate"]]}),
    "validate a value": (Op.Validate, lambda o: {"Certificate": [{
        "CertificateType": enums.CertificateType.X_509, "CertificateValue": CERTIFICATE}]}),
    "export": (Op.Export, lambda o: {"UniqueIdentifier": o["aes"]}),
    "import": (Op.Import, lambda o: cosmian_import("fuzz-imported", replace=True)),
    "re-key": (Op.ReKey, lambda o: {"UniqueIdentifier": o["aes"]}),
    "re-key key pair": (Op.ReKeyKeyPair, lambda o: {"PrivateKeyUniqueIdentifier": o["ec_private"]}),
    "get wrapped by key wrap": (Op.Get, _wrapped_get("aes", "wrapping", BlockCipherMode=BCM.NISTKeyWrap)),
    "get wrapped by RSA OAEP": (Op.Get, _wrapped_get("aes", "rsa_public",
                                                     PaddingMethod=enums.PaddingMethod.OAEP)),
    "get transparent EC": (Op.Get, _get("ec_private", Fmt.TransparentECPrivateKey)),
    "get PKCS#8": (Op.Get, _get("rsa_private", Fmt.PKCS_8)),
    "get transparent RSA public": (Op.Get, _get("rsa_public", Fmt.TransparentRSAPublicKey)),
    "get X.509 public": (Op.Get, _get("ec_public", Fmt.X_509)),
    "get certificate": (Op.Get, lambda o: {"UniqueIdentifier": o["certificate"]}),
    "sign ECDSA": (Op.Sign, lambda o: {"UniqueIdentifier": o["ec_private"], "Data": b"fuzz",
                                       "CryptographicParameters": {
                                           "DigitalSignatureAlgorithm":
                                               enums.DigitalSignatureAlgorithm.ECDSAWithSHA256}}),
    "MAC HMAC": (Op.MAC, lambda o: {"UniqueIdentifier": o["hmac"], "Data": b"fuzz"}),
    "encrypt RSA OAEP SHA-256": (Op.Encrypt, lambda o: {
        "UniqueIdentifier": o["rsa_public"], "Data": b"fuzz", "CryptographicParameters": {
            "PaddingMethod": enums.PaddingMethod.OAEP,
            "HashingAlgorithm": enums.HashingAlgorithm.SHA_256}}),
    "encrypt CTR": (Op.Encrypt, lambda o: {
        "UniqueIdentifier": o["aes"], "Data": b"fuzz", "IVCounterNonce": bytes(16),
        "CryptographicParameters": {"BlockCipherMode": BCM.CTR}}),
    "register PKCS#8 EC": (Op.Register, lambda o: {
        "ObjectType": OT.PrivateKey,
        "Attributes": {"CryptographicUsageMask": int(Usage.Sign)},
        "PrivateKey": {"KeyBlock": {"KeyFormatType": Fmt.PKCS_8,
                                    "KeyValue": {"KeyMaterial": _ec_private()},
                                    "CryptographicAlgorithm": Alg.EC,
                                    "CryptographicLength": 256}}}),
    "register certificate": (Op.Register, lambda o: {
        "ObjectType": OT.Certificate, "Attributes": {},
        "Certificate": {"CertificateType": enums.CertificateType.X_509,
                        "CertificateValue": CERTIFICATE}}),
    "register transparent key": (Op.Register, lambda o: {
        "ObjectType": OT.SymmetricKey,
        "Attributes": {"CryptographicUsageMask": EVERY_USE},
        "SymmetricKey": {"KeyBlock": {"KeyFormatType": Fmt.TransparentSymmetricKey,
                                      "KeyValue": {"KeyMaterial": {"Key": bytes(range(32))}},
                                      "CryptographicAlgorithm": Alg.AES,
                                      "CryptographicLength": 256}}}),
}


def seeds(request: Callable[..., Node], objects: dict[str, str]) -> list[Seed]:
    """The extra seeds as request messages (``request``: :meth:`EngineHarness.request`),
    in KMIP 2.1 and, for the mistakes, 1.4 too."""
    out = [Seed(f"extra:{name}", request((operation, payload(objects))))
           for name, (operation, payload) in VALID.items()]
    for name, (operation, payload, _reason) in MISTAKES.items():
        for version in ((2, 1), (1, 4)):
            out.append(Seed(f"mistake:{name}@{version[0]}.{version[1]}",
                            request((operation, payload(objects)), version=version)))
    return out
