"""Runner for the OASIS KMIP 2.1 profile test cases (``vectors/kmip-2.1/*/*.xml``).

- :mod:`.vectors`: find the files and parse them with the project's XML codec; test-case
  placeholders (``$NOW``, ``$UNIQUE_IDENTIFIER_0``, ...) become recognisable sentinel values.
- :mod:`.runner`: ``run_file(path, send)``: pure and synchronous; substitutes variables in
  requests (:mod:`.substitute`), compares responses (:mod:`.compare`, with the variations
  of :mod:`.variations`) and stops at the first difference.
- :mod:`.transport`: binary TTLV over TLS, and TTLV / JSON / XML over HTTPS.
- :mod:`.session`: one client identity per test file (or per dependent series) on a server.
- :mod:`.expectations`: ``known_failures.toml`` (real limits) and ``not_yet.toml`` (unimplemented).
- ``python -m tests.conformance``: run every file against a fresh server, print a table.
"""
