"""Twisted transports: KMIP TTLV over TLS, KMIP over HTTPS, and the service that assembles them."""
