"""One typed dataclass per operation payload, registered by operation.

Each module declares the payloads of one family of operations (mirroring
``kmiphsm.engine``) with :func:`request_payload` / :func:`response_payload`; importing this
package registers them all. An operation without a declared payload is handed over as its
raw ``ttlv.Node``.
"""

from kmiphsm.model.payloads.registry import (
    REQUEST_PAYLOADS,
    RESPONSE_PAYLOADS,
    read_request_payload,
    read_response_payload,
    request_payload,
    response_payload,
)
from kmiphsm.model.payloads import discovery, interop, objects  # noqa: E402,F401  (registers)
from kmiphsm.model.payloads.discovery import (  # noqa: E402
    DiscoverVersionsRequestPayload,
    DiscoverVersionsResponsePayload,
    QueryRequestPayload,
    QueryResponsePayload,
)
from kmiphsm.model.payloads.interop import InteropRequestPayload, InteropResponsePayload  # noqa: E402
from kmiphsm.model.payloads.objects import (  # noqa: E402
    CreateKeyPairRequestPayload,
    CreateKeyPairResponsePayload,
    CreateRequestPayload,
    CreateResponsePayload,
    GetRequestPayload,
    GetResponsePayload,
    RegisterRequestPayload,
    RegisterResponsePayload,
)

__all__ = [
    "REQUEST_PAYLOADS",
    "RESPONSE_PAYLOADS",
    "CreateKeyPairRequestPayload",
    "CreateKeyPairResponsePayload",
    "CreateRequestPayload",
    "CreateResponsePayload",
    "DiscoverVersionsRequestPayload",
    "DiscoverVersionsResponsePayload",
    "GetRequestPayload",
    "GetResponsePayload",
    "InteropRequestPayload",
    "InteropResponsePayload",
    "QueryRequestPayload",
    "QueryResponsePayload",
    "RegisterRequestPayload",
    "RegisterResponsePayload",
    "read_request_payload",
    "read_response_payload",
    "request_payload",
    "response_payload",
]
