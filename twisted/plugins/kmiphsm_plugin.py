"""The ``twistd kmiphsm`` entry point (a Twisted application plugin)."""

from twisted.application.service import ServiceMaker

kmiphsm = ServiceMaker(
    "kmiphsm",
    "kmiphsm.server.service",
    "KMIP 1.0-2.1 key-management server with keys in a PKCS#11 token",
    "kmiphsm",
)
