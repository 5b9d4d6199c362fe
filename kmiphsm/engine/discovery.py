"""Discover Versions and Query (KMIP 2.1 sections 6.1.16 and 6.1.40).

Query answers only what really works: Operations come from the handler registry, less
the cryptographic operations no mechanism of the token serves (:data:`TOKEN_OPERATIONS`, from
the token's capabilities read at start-up: on a token without CKM_ECDH1_DERIVE and
CKM_AES_CBC_ENCRYPT_DATA, Derive Key is not listed); Objects from the object types the
registered handlers declared. For a 1.x client the model drops values its version does not
define.
"""

from __future__ import annotations

from typing import Any

from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.registry import handler
from kmiphsm.hsm.algorithms import Operation as TokenOperation
from kmiphsm.model.payloads import (
    DiscoverVersionsRequestPayload,
    DiscoverVersionsResponsePayload,
    QueryRequestPayload,
    QueryResponsePayload,
)
from kmiphsm.model.version import SUPPORTED_VERSIONS
from kmiphsm.ttlv import enums

Operation = enums.Operation
QueryFunction = enums.QueryFunction

#: KMIP operations that are only offered when the token serves at least one recipe of the
#: token operation (:meth:`kmiphsm.hsm.capabilities.Capabilities.supports`).
TOKEN_OPERATIONS: dict[int, TokenOperation] = {
    Operation.Encrypt: TokenOperation.ENCRYPT,
    Operation.Decrypt: TokenOperation.ENCRYPT,
    Operation.Sign: TokenOperation.SIGN,
    Operation.SignatureVerify: TokenOperation.SIGN,
    Operation.MAC: TokenOperation.MAC,
    Operation.MACVerify: TokenOperation.MAC,
    Operation.DeriveKey: TokenOperation.DERIVE,
    Operation.Hash: TokenOperation.DIGEST,
}


def offered_operations(context: OperationContext) -> list[int]:
    """The registered operations the token can serve (all of them without a token)."""
    token = context.engine.token
    operations = context.engine.handlers.operations()
    if token is None:
        return operations
    capabilities = token.capabilities
    return [op for op in operations
            if op not in TOKEN_OPERATIONS or capabilities.supports(TOKEN_OPERATIONS[op])]


@handler(Operation.DiscoverVersions)
def discover_versions(context: OperationContext,
                      payload: DiscoverVersionsRequestPayload) -> DiscoverVersionsResponsePayload:
    """The versions both sides speak, in the client's order of preference; all of ours,
    newest first, if the client lists none."""
    if not payload.protocol_version:
        return DiscoverVersionsResponsePayload(list(SUPPORTED_VERSIONS))
    ours = set(SUPPORTED_VERSIONS)
    return DiscoverVersionsResponsePayload([v for v in payload.protocol_version if v in ours])


def capability_information() -> dict[str, Any]:
    """Capability Information (KMIP 2.1 section 7.5): synchronous only, no streaming or
    attestation; every Batch Error Continuation Option works."""
    return {
        "StreamingCapability": False,
        "AsynchronousCapability": False,
        "AttestationCapability": False,
        "BatchUndoCapability": True,
        "BatchContinueCapability": True,
    }


@handler(Operation.Query)
def query(context: OperationContext, payload: QueryRequestPayload) -> QueryResponsePayload:
    engine = context.engine
    asked = set(payload.query_function)
    response = QueryResponsePayload()
    if QueryFunction.QueryOperations in asked:
        response.operation = [_operation(v) for v in offered_operations(context)]
    if QueryFunction.QueryObjects in asked:
        response.object_type = [_object_type(v) for v in engine.handlers.object_types()]
    if QueryFunction.QueryServerInformation in asked:
        information = dict(engine.server_information)
        response.vendor_identification = str(information.pop("VendorIdentification", "kmiphsm"))
        response.server_information = information
    if QueryFunction.QueryCapabilities in asked:
        response.capability_information = [capability_information()]
    if QueryFunction.QueryRNGs in asked:
        # SHALL answer; the token's generator is not described further (section 6.1.40)
        response.rng_parameters = [{"RNGAlgorithm": enums.RNGAlgorithm.Unspecified}]
    if QueryFunction.QueryStorageProtectionMasks in asked:
        response.protection_storage_masks = {}
    # Application Namespaces, Extension List/Map, Attestation Types, Validations, Profiles,
    # Client Registration Methods, Defaults Information: none to report (empty answers).
    return response


def _operation(value: int) -> int:
    try:
        return Operation(value)
    except ValueError:
        return value


def _object_type(value: int) -> int:
    try:
        return enums.ObjectType(value)
    except ValueError:
        return value
