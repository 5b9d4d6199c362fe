"""One record per hash (kmiphsm.hsm.hashes): each fact checked against the libraries and the
standards that define it, and every per-hash table built from it."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from twisted.trial import unittest

from kmiphsm.engine import cryptoparams, keyspec
from kmiphsm.hsm import Hash
from kmiphsm.hsm.algorithms import Operation
from kmiphsm.hsm.hashes import BY_HASHING_ALGORITHM, BY_HMAC_ALGORITHM, HASHES
from kmiphsm.hsm.mechanisms import MECHANISMS, Usage
from kmiphsm.ttlv import registry


class HashFactsTests(unittest.TestCase):
    def test_every_hash_has_a_record(self) -> None:
        self.assertEqual(set(HASHES), set(Hash))
        for hash_, facts in HASHES.items():
            self.assertIs(facts.hash, hash_)

    def test_sizes_and_names_agree_with_hashlib_and_cryptography(self) -> None:
        for facts in HASHES.values():
            reference = hashlib.new(facts.hashlib_name)
            self.assertEqual(facts.digest_length, reference.digest_size)
            self.assertEqual(facts.block_size, reference.block_size)
            self.assertEqual(facts.cryptography_hash().digest_size, facts.digest_length)
            self.assertEqual(facts.cryptography_hash.name, facts.hashlib_name)
            self.assertEqual(facts.hmac_minimum_key_bytes, facts.digest_length)

    def test_kmip_values_name_the_same_hash(self) -> None:
        for facts in HASHES.values():
            digits = facts.hash.value.replace("SHA-", "")
            self.assertEqual(registry.enum_name("HashingAlgorithm", facts.hashing_algorithm),
                             f"SHA_{digits}")
            self.assertEqual(registry.enum_name("CryptographicAlgorithm", facts.hmac_algorithm),
                             f"HMAC_SHA{digits}")
        self.assertEqual(len(BY_HASHING_ALGORITHM), len(HASHES))
        self.assertEqual(len(BY_HMAC_ALGORITHM), len(HASHES))

    def test_digest_info_prefixes_are_what_pkcs1_v1_5_signs(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        numbers = key.public_key().public_numbers()
        for facts in HASHES.values():
            digest = hashlib.new(facts.hashlib_name, b"m").digest()
            signature = key.sign(digest, padding.PKCS1v15(),
                                 Prehashed(facts.cryptography_hash()))
            encoded = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n)
            block = encoded.to_bytes(128, "big")
            self.assertTrue(block.endswith(facts.digest_info_prefix + digest), facts.hash)

    def test_the_other_tables_read_the_records(self) -> None:
        for facts in HASHES.values():
            self.assertIs(cryptoparams.HASHES[facts.hashing_algorithm], facts.hash)
            self.assertIs(cryptoparams.HMAC_HASHES[facts.hmac_algorithm], facts.hash)
            self.assertEqual(keyspec.HMAC_ALGORITHMS[facts.hmac_algorithm],
                             facts.digest_length * 8)
            digest = MECHANISMS[Usage(Operation.DIGEST, None, None, None, facts.hash)]
            self.assertEqual(digest.mechanism, facts.digest_mechanism)
        self.assertIsInstance(HASHES[Hash.SHA256].cryptography_hash(), hashes.SHA256)
