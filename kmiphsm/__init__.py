"""kmiphsm: a KMIP 1.0-2.1 server whose keys live and work inside a PKCS#11 token."""

__version__ = "0.1.0"
