"""Capability discovery (kmiphsm.hsm.capabilities), the master-key wrap scheme recorded per blob
(KeyRef version 2), and the quirks (kmiphsm.hsm.quirks): on tables of mechanisms, and on the
SoftHSM test token with each master-key wrap scheme forced."""

from __future__ import annotations

import struct

from pkcs11 import Mechanism
from twisted.trial import unittest

from kmiphsm.hsm import (
    CryptographicParameters,
    Hash,
    InvalidArgument,
    KeyAlgorithm,
    KeyClass,
    Mode,
    Padding,
    Pkcs11Token,
    TokenError,
    UnsupportedMechanism,
)
from kmiphsm.hsm import capabilities as caps
from kmiphsm.hsm.algorithms import Operation
from kmiphsm.hsm.keyref import KeyRef, Storage, WrapScheme
from kmiphsm.hsm.mechanisms import Usage, offered_mechanisms, recipe_for
from kmiphsm.hsm.quirks import Quirk, parse, quirks_for, unwrap_template
from kmiphsm.hsm.templates import storage_for
from tests.support.hsm import open_token
from tests.support.softhsm import shared_token

WRAP = caps.CKF_WRAP | caps.CKF_UNWRAP
ENCRYPT = caps.CKF_ENCRYPT | caps.CKF_DECRYPT
DESCRIPTION = caps.TokenDescription("/lib/x.so", "X 1.0", "Acme", "Box 9", "kmiphsm", "1")


def capabilities(mechanisms: dict[Mechanism, int], **options: object) -> caps.Capabilities:
    return caps.Capabilities(
        DESCRIPTION, {int(m): caps.MechanismInfo(16, 32, flags) for m, flags in mechanisms.items()},
        **options)  # type: ignore[arg-type]


class MasterWrapChoice(unittest.TestCase):
    def test_best_offered_scheme_first(self) -> None:
        every = {Mechanism.AES_KEY_WRAP_PAD: WRAP, Mechanism.AES_KEY_WRAP: WRAP,
                 Mechanism.AES_CBC_PAD: ENCRYPT | WRAP}
        self.assertEqual(capabilities(every).master_wrap(), WrapScheme.AES_KWP)
        del every[Mechanism.AES_KEY_WRAP_PAD]
        self.assertEqual(capabilities(every).master_wrap(), WrapScheme.AES_KW)
        del every[Mechanism.AES_KEY_WRAP]
        self.assertEqual(capabilities(every).master_wrap(), WrapScheme.AES_CBC_PAD)

    def test_a_mechanism_without_the_wrap_flag_is_not_used_for_wrapping(self) -> None:
        offered = capabilities({Mechanism.AES_KEY_WRAP_PAD: ENCRYPT,
                                Mechanism.AES_CBC_PAD: ENCRYPT | WRAP})
        self.assertEqual(offered.master_wrap(), WrapScheme.AES_CBC_PAD)

    def test_no_scheme_or_a_missing_configured_one_is_a_clear_start_up_error(self) -> None:
        error = self.assertRaises(TokenError, capabilities({Mechanism.AES_ECB: ENCRYPT}).master_wrap)
        self.assertIn("CKM_AES_KEY_WRAP_PAD", str(error))
        self.assertIn("CKM_AES_CBC_PAD", str(error))
        forced = capabilities({Mechanism.AES_CBC_PAD: WRAP}, wrap_choice=caps.WrapChoice.AES_KW)
        error = self.assertRaises(TokenError, forced.master_wrap)
        self.assertIn("hsm.master_wrap is 'aes-kw'", str(error))
        self.assertIn("CKM_AES_KEY_WRAP", str(error))


class RecipesAgainstTheToken(unittest.TestCase):
    def setUp(self) -> None:
        self.offered = capabilities({
            Mechanism.AES_CBC_PAD: ENCRYPT | WRAP, Mechanism.AES_CBC: ENCRYPT,
            Mechanism.AES_KEY_GEN: caps.CKF_GENERATE, Mechanism.SHA256_HMAC: caps.CKF_SIGN})

    def test_a_missing_mechanism_is_unsupported_and_named(self) -> None:
        gcm = Usage(Operation.ENCRYPT, KeyAlgorithm.AES, Mode.GCM, Padding.NONE, None)
        error = self.assertRaises(UnsupportedMechanism, recipe_for, gcm,
                                  CryptographicParameters(), offered=self.offered)
        self.assertIn("needs CKM_AES_GCM", str(error))
        self.assertIn("(Acme Box 9)", str(error))
        cbc = Usage(Operation.ENCRYPT, KeyAlgorithm.AES, Mode.CBC, Padding.PKCS5, None)
        self.assertEqual(recipe_for(cbc, offered=self.offered).mechanism, Mechanism.AES_CBC_PAD)
        self.assertEqual(recipe_for(gcm).mechanism, Mechanism.AES_GCM)  # no token: the table

    def test_operations_and_features_follow_the_mechanisms(self) -> None:
        self.assertTrue(self.offered.supports(Operation.ENCRYPT))
        self.assertTrue(self.offered.supports(Operation.MAC))
        self.assertFalse(self.offered.supports(Operation.DERIVE))
        self.assertFalse(self.offered.supports(Operation.SIGN))
        features = self.offered.features()
        self.assertIsNone(features["encrypt AES CBC PKCS5"])
        self.assertEqual(features["encrypt AES GCM None"], "CKM_AES_GCM missing")
        self.assertEqual(features["create RSA"], "CKM_RSA_PKCS_KEY_PAIR_GEN missing")
        self.assertIsNone(features["create AES"])

    def test_the_pkcs11_mechanism_list_is_what_the_token_offers_and_kmiphsm_uses(self) -> None:
        listed = set(offered_mechanisms(self.offered))
        self.assertEqual(listed, {int(Mechanism.AES_CBC_PAD), int(Mechanism.AES_CBC),
                                  int(Mechanism.AES_KEY_GEN), int(Mechanism.SHA256_HMAC)})
        self.assertIn(int(Mechanism.AES_GCM), offered_mechanisms())

    def test_a_message_is_hashed_on_the_host_where_only_its_digest_can_be_signed(self) -> None:
        usage = Usage(Operation.SIGN, KeyAlgorithm.RSA, None, Padding.PKCS1_V1_5, Hash.SHA256)
        recipe = recipe_for(usage)
        digests_only = capabilities({Mechanism.RSA_PKCS: caps.CKF_SIGN})
        self.assertTrue(digests_only.usable(usage, recipe))
        self.assertTrue(digests_only.prehash(usage, recipe))
        both = capabilities({Mechanism.RSA_PKCS: caps.CKF_SIGN,
                             Mechanism.SHA256_RSA_PKCS: caps.CKF_SIGN})
        self.assertFalse(both.prehash(usage, recipe))
        self.assertFalse(self.offered.usable(usage, recipe))

    def test_a_mechanism_without_flags_counts_for_every_use(self) -> None:
        offered = capabilities({Mechanism.AES_GCM: 0})
        self.assertTrue(offered.offers(Mechanism.AES_GCM, caps.CKF_ENCRYPT))
        self.assertFalse(capabilities({Mechanism.AES_GCM: caps.CKF_SIGN}).offers(
            Mechanism.AES_GCM, caps.CKF_ENCRYPT))


class Quirks(unittest.TestCase):
    def test_known_tokens(self) -> None:
        self.assertEqual(quirks_for("SoftHSM project", "SoftHSM v2"), {
            Quirk.REREAD_TOKEN_OBJECTS, Quirk.KWP_ZERO_PADS, Quirk.HMAC_KEY_LENGTH})
        self.assertEqual(quirks_for("IBM Corp.", "IBM SoftTok"),
                         {Quirk.UNWRAP_TEMPLATE, Quirk.LAX_CBC_PAD})
        self.assertEqual(quirks_for("Acme", "Box 9"), frozenset())

    def test_configured_names(self) -> None:
        self.assertEqual(parse(["softhsm-reread"]), {Quirk.REREAD_TOKEN_OBJECTS})
        error = self.assertRaises(ValueError, parse, ["softhsm-nonsense"])
        self.assertIn("softhsm-nonsense", str(error))

    def test_unwrap_template_drops_only_the_defaults_the_token_refuses(self) -> None:
        from pkcs11 import Attribute
        template = {Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False,
                    Attribute.TOKEN: False}
        quirky = frozenset({Quirk.UNWRAP_TEMPLATE})
        self.assertEqual(unwrap_template(template, quirky), {Attribute.TOKEN: False})
        strict = {Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True}
        self.assertEqual(unwrap_template(strict, quirky), strict)
        self.assertEqual(unwrap_template(template, frozenset()), template)


class KeyRefWrapScheme(unittest.TestCase):
    def ref(self, scheme: WrapScheme) -> KeyRef:
        return KeyRef(Storage.WRAPPED, KeyClass.SECRET, KeyAlgorithm.AES, 256, b"blob" * 10,
                      wrapping_key_id=b"m" * 16, wrap_scheme=scheme)

    def test_kwp_blobs_keep_the_version_1_form(self) -> None:
        data = self.ref(WrapScheme.AES_KWP).to_bytes()
        self.assertEqual(data[2], 1)
        self.assertEqual(KeyRef.from_bytes(data).wrap_scheme, WrapScheme.AES_KWP)

    def test_other_schemes_are_version_2_and_round_trip(self) -> None:
        for scheme in (WrapScheme.AES_KW, WrapScheme.AES_CBC_PAD):
            data = self.ref(scheme).to_bytes()
            self.assertEqual(data[2], 2)
            self.assertEqual(KeyRef.from_bytes(data), self.ref(scheme))

    def test_a_version_1_blob_written_before_reads_as_kwp(self) -> None:
        def short(value: bytes) -> bytes:
            return bytes([len(value)]) + value
        old = (b"KR" + struct.pack(">BBI", 1, 1, 256) + short(b"wrapped") + short(b"secret")
               + short(b"AES") + short(b"") + short(b"m" * 16) + struct.pack(">I", 3) + b"abc")
        ref = KeyRef.from_bytes(old)
        self.assertEqual((ref.wrap_scheme, ref.material), (WrapScheme.AES_KWP, b"abc"))

    def test_an_unknown_scheme_is_refused(self) -> None:
        data = self.ref(WrapScheme.AES_KW).to_bytes().replace(b"aes-kw", b"aes-zz")
        self.assertRaises(InvalidArgument, KeyRef.from_bytes, data)


class StorageUnderEachScheme(unittest.TestCase):
    def test_where_keys_go(self) -> None:
        generic, secret, private = KeyAlgorithm.GENERIC_SECRET, KeyClass.SECRET, KeyClass.PRIVATE
        kw, cbc, kwp = WrapScheme.AES_KW, WrapScheme.AES_CBC_PAD, WrapScheme.AES_KWP
        self.assertEqual(storage_for(KeyAlgorithm.AES, secret, True, 32, scheme=kw),
                         Storage.WRAPPED)
        self.assertEqual(storage_for(generic, secret, True, 20, scheme=kw), Storage.TOKEN_OBJECT)
        self.assertEqual(storage_for(KeyAlgorithm.RSA, private, True, scheme=kw),
                         Storage.TOKEN_OBJECT)  # PKCS#8 of any length: RFC 3394 cannot
        self.assertEqual(storage_for(generic, secret, True, 100, scheme=cbc), Storage.WRAPPED)
        self.assertEqual(storage_for(KeyAlgorithm.RSA, private, True, scheme=cbc),
                         Storage.WRAPPED)
        self.assertEqual(storage_for(generic, secret, True, 100, scheme=kwp),
                         Storage.TOKEN_OBJECT)  # SoftHSM's zero padding
        self.assertEqual(storage_for(generic, secret, True, 100, scheme=kwp, zero_pads=False),
                         Storage.WRAPPED)


class SoftHsmWithEachScheme(unittest.TestCase):
    """The master-key wrap scheme forced on SoftHSM: AES-KW and AES-KWP (its C_WrapKey has no
    AES-CBC-PAD; tests/test_opencryptoki.py covers that scheme, OpenCryptoki's)."""

    def token(self, master_wrap: str) -> Pkcs11Token:
        test_token = shared_token()
        token = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin,
                            master_wrap=master_wrap)
        token.open()
        self.addCleanup(token.close)
        return token

    def test_softhsm_is_discovered_with_its_quirks(self) -> None:
        token, _ = open_token()
        self.addCleanup(token.close)
        found = token.capabilities
        self.assertEqual(found.description.manufacturer, "SoftHSM project")
        self.assertIn(Quirk.KWP_ZERO_PADS, found.quirks)
        self.assertEqual(found.master_wrap(), WrapScheme.AES_KWP)
        report = found.report()
        self.assertEqual(report["features_off"], {})
        self.assertNotIn("1234", repr(report))  # no PIN

    def test_every_scheme_wraps_and_a_later_scheme_change_strands_nothing(self) -> None:
        params = CryptographicParameters(block_cipher_mode=Mode.CBC, padding_method=Padding.PKCS5)
        signing = CryptographicParameters(padding_method=Padding.PSS, hashing_algorithm=Hash.SHA256)
        made = []
        for scheme in ("aes-kw", "aes-kwp"):
            token = self.token(scheme)
            ref = token.generate_secret(KeyAlgorithm.AES, 256)
            self.assertEqual((ref.storage, ref.wrap_scheme.value), (Storage.WRAPPED, scheme))
            encrypted = token.encrypt(ref, b"secret message", params)
            made.append((ref, encrypted, token.export_secret(ref)))
            pair = token.generate_key_pair(KeyAlgorithm.RSA, bits=2048)
            wanted = Storage.TOKEN_OBJECT if scheme == "aes-kw" else Storage.WRAPPED
            self.assertEqual(pair.private.storage, wanted)
            signature = token.sign(pair.private, b"m", signing)
            self.assertTrue(token.verify(pair.public, b"m", signature, signing))
        later = self.token("auto")  # the same blobs under the other scheme's token
        for ref, encrypted, raw in made:
            stored = KeyRef.from_bytes(ref.to_bytes())
            self.assertEqual(later.decrypt(stored, encrypted.data, params, iv=encrypted.iv),
                             b"secret message")
            self.assertEqual(later.export_secret(stored), raw)
