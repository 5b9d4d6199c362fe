"""Which operations a request of each protocol version may carry.

An operation is accepted in the versions whose Operation enumeration defines it (KMIP 1.4
section 9.1.3.2.27, KMIP 2.1 section 11.39: Ping and Log are 2.0 operations, Encrypt a 1.2
one ...), and, to be liberal in what is accepted, in a few older versions too:

- The cryptographic operations of KMIP 1.2 (Encrypt, Decrypt, Sign, Signature Verify, MAC,
  MAC Verify, RNG Retrieve, RNG Seed, Hash; KMIP 1.2 sections 4.29-4.37) in a KMIP 1.0 or
  1.1 message. Clients send them so (PyKMIP 0.11 does not check the version it speaks) and the
  message is readable: the same payloads, tags that 1.0 already reads. The answer is written
  in the request's version, like any other; Query at 1.0 / 1.1 still lists only the
  operations those versions define, so a client that checks first is not misled.

Discover Versions (a 1.1 operation) is answered in every version: it is how a client finds
a common one (KMIP 1.4 section 4.26).
"""

from __future__ import annotations

from kmiphsm.model import spec_data
from kmiphsm.model.version import V1_0, V1_1, ProtocolVersion
from kmiphsm.ttlv import enums

Operation = enums.Operation

#: The KMIP 1.2 cryptographic operations, accepted in 1.0 and 1.1 messages as well.
CRYPTOGRAPHIC_1_2 = frozenset({
    Operation.Encrypt, Operation.Decrypt, Operation.Sign, Operation.SignatureVerify,
    Operation.MAC, Operation.MACVerify, Operation.RNGRetrieve, Operation.RNGSeed, Operation.Hash,
})

#: Operations accepted in a version that does not define them: version -> operations.
ACCEPTED_EARLIER: dict[ProtocolVersion, frozenset[int]] = {
    V1_0: CRYPTOGRAPHIC_1_2 | {Operation.DiscoverVersions},
    V1_1: CRYPTOGRAPHIC_1_2,
}


def accepted(operation: int, version: ProtocolVersion) -> bool:
    """Whether a request of ``version`` may carry ``operation`` (see the module docstring)."""
    if spec_data.enum_value_in_version("Operation", int(operation), str(version)):
        return True
    return int(operation) in ACCEPTED_EARLIER.get(version, frozenset())
