"""Clients and tools nobody here wrote (PyKMIP, curl) against a real kmiphsm server."""
