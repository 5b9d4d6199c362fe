"""A standing fuzz harness for the server's whole path below the sockets (issue 19: no
client, authenticated or not, can make the server fail).

``make fuzz`` (``python -m tests.fuzz``) runs 100,000 cases with a random seed it prints;
``make test`` runs a fixed-seed slice of a few thousand (:mod:`tests.fuzz.test_fuzz`).

How a case goes:

1. **Corpus** (:mod:`.corpus`): the request messages of the OASIS KMIP 2.1 test cases
   (``../shared/vectors/kmip-2.1``), played once against the engine under test so their
   placeholders (``$UNIQUE_IDENTIFIER_0`` ...) name objects it really holds.
2. **Case** (:mod:`.cases`): hypothesis draws a seed, a route (binary TTLV as the TLS
   transport frames it; JSON or XML on ``POST /kmip``; Cosmian's JSON on ``POST
   /kmip/2_1``, one bare operation or a whole message), a client identity (the objects'
   owner, another tenant, an administrator) and up to four mutations.
3. **Mutations** at three levels: the TTLV tree (:mod:`.tree`: fields dropped, doubled,
   moved, retyped, retagged; integers at their edges; empty and huge strings; undefined and
   other enumeration values; deep nesting; other seeds' subtrees; other objects'
   identifiers; other protocol versions), then the parsed JSON document or the XML
   attributes, then the wire bytes or text (:mod:`.wire`: bits, bytes, length and type
   fields; syntax snippets, entities, truncation).
4. **Target** (:mod:`.target`): :class:`kmiphsm.server.endpoint.KmipEndpoint` over a real
   :class:`kmiphsm.engine.Engine` with a SQLite store on a real SoftHSM token
   (:class:`tests.support.engine.EngineHarness`).
5. **Oracle** (:mod:`.oracle`): an answer comes back (no exception escapes the endpoint),
   none is General Failure or HTTP 500, nothing is logged at ERROR or with a traceback by
   ``kmiphsm.*``, every answer reads back with the project's codecs, and a frame the TLS
   transport would hand over is answered with a ResponseMessage.

A violation stops the run; hypothesis shrinks the case and the smallest one is written to
``var/fuzz/failures/`` (:mod:`.reproducer`); ``--replay FILE`` sends it again,
``--keep-going`` records every distinct violation and runs to the end (:mod:`.run`).

**Key generation is kept cheap** (SoftHSM takes ~0.2 s for an RSA-2048 pair, ~2 s for
4096): the corpus generates RSA pairs of 1024 bits (:data:`.corpus.RSA_BITS`) instead of
the test cases' 2048; no mutation writes a modulus length above 2048
(:data:`.tree.EDGE_NUMBERS`; a random 32-bit length is refused at once); the seeds that
generate key pairs or register RSA private keys (~0.1-0.3 s each) are drawn in only
:data:`.cases.SLOW_SHARE` percent of the cases; a mutation repeats a node at most 8 times
and a message has at most 4 mutations, so one case generates at most a few dozen keys.

It lives in ``tests/`` (not ``bench/``) because it is a test: it reuses the test support
(token, engine harness) and the conformance runner's reading of the test cases, and its
slice runs in ``make test`` under trial.
"""
