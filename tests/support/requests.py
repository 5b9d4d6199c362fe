"""Objects written as clients send them, shared by several test modules and the fuzzer."""

from __future__ import annotations

from typing import Any

from kmiphsm.ttlv import enums

Alg = enums.CryptographicAlgorithm
OT = enums.ObjectType
Fmt = enums.KeyFormatType
Usage = enums.CryptographicUsageMask

KEY = bytes.fromhex("FEFF" + "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDD")
ENCRYPT_DECRYPT = int(Usage.Encrypt | Usage.Decrypt)


def cosmian_import(uid: str, key: bytes = KEY, replace: bool = False,
                   **attributes: Any) -> dict[str, Any]:
    """An Import as Cosmian KMS's clients send it: Unique Identifier, Object Type, Replace
    Existing, Attributes, and the Symmetric Key tagged by its object type (TTLV form)."""
    attrs = {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": len(key) * 8,
             "CryptographicUsageMask": ENCRYPT_DECRYPT, **attributes}
    return {"UniqueIdentifier": uid, "ObjectType": OT.SymmetricKey, "ReplaceExisting": replace,
            "Attributes": attrs,
            "SymmetricKey": {"KeyBlock": {
                "KeyFormatType": Fmt.TransparentSymmetricKey,
                "KeyValue": {"KeyMaterial": {"Key": key}},
                "CryptographicAlgorithm": Alg.AES, "CryptographicLength": len(key) * 8}}}


def create_aes(name: str | None = None, extractable: bool = True,
               **attributes: Any) -> dict[str, Any]:
    """A Create of an AES-256 Encrypt/Decrypt key (``name``: its Name; ``attributes``: more)."""
    attrs: dict[str, Any] = {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 256,
                             "CryptographicUsageMask": ENCRYPT_DECRYPT, **attributes}
    if name is not None:
        attrs["Name"] = {"NameValue": name, "NameType": enums.NameType.UninterpretedTextString}
    if not extractable:
        attrs["Extractable"] = False
    return {"ObjectType": OT.SymmetricKey, "Attributes": attrs}
