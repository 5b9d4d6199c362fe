"""Benchmark of the binary TTLV codec on the hot path, against PyKMIP's codec.

One round = decode a binary Encrypt request (Unique Identifier, Cryptographic
Parameters, 64-byte Data) and encode its response (Unique Identifier, 64-byte
Data), as the server does for every request.  Measured for one batch item and
for a batch of 10, with kmiphsm.ttlv.binary and with PyKMIP 0.11
(``RequestMessage.read`` + ``ResponseMessage.write`` of the equivalent
kmip.core objects).  Both codecs see byte-identical messages (checked).

Targets: <= 25 us for one item, <= 200 us for 10 items.

Run: ``.venv/bin/python bench/ttlv_bench.py [--profile]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kmiphsm.ttlv import Node, binary, enums, tags  # noqa: E402

UID = str(uuid.UUID(int=0x1234567890ABCDEF1234567890ABCDEF))
DATA = bytes(range(64))
NOW = 1_700_000_000
VERSION = (1, 2)  # Encrypt exists since KMIP 1.2; PyKMIP speaks 1.0-2.0


# -- our trees -----------------------------------------------------------------


def _version() -> Node:
    return Node.structure(tags.ProtocolVersion, [
        Node.integer(tags.ProtocolVersionMajor, VERSION[0]),
        Node.integer(tags.ProtocolVersionMinor, VERSION[1]),
    ])


def request_tree(items: int) -> Node:
    batch = [
        Node.structure(tags.BatchItem, [
            Node.enumeration(tags.Operation, enums.Operation.Encrypt),
            Node.structure(tags.RequestPayload, [
                Node.text(tags.UniqueIdentifier, UID),
                Node.structure(tags.CryptographicParameters, [
                    Node.enumeration(tags.BlockCipherMode, enums.BlockCipherMode.CBC),
                    Node.enumeration(tags.PaddingMethod, enums.PaddingMethod.PKCS5),
                    Node.enumeration(tags.CryptographicAlgorithm, enums.CryptographicAlgorithm.AES),
                ]),
                Node.bytes(tags.Data, DATA),
            ]),
        ])
        for _ in range(items)
    ]
    return Node.structure(tags.RequestMessage, [
        Node.structure(tags.RequestHeader, [_version(), Node.integer(tags.BatchCount, items)]),
        *batch,
    ])


def response_tree(items: int) -> Node:
    batch = [
        Node.structure(tags.BatchItem, [
            Node.enumeration(tags.Operation, enums.Operation.Encrypt),
            Node.enumeration(tags.ResultStatus, enums.ResultStatus.Success),
            Node.structure(tags.ResponsePayload, [
                Node.text(tags.UniqueIdentifier, UID),
                Node.bytes(tags.Data, DATA),
            ]),
        ])
        for _ in range(items)
    ]
    return Node.structure(tags.ResponseMessage, [
        Node.structure(tags.ResponseHeader, [
            _version(),
            Node.date_time(tags.TimeStamp, NOW),
            Node.integer(tags.BatchCount, items),
        ]),
        *batch,
    ])


# -- PyKMIP objects ------------------------------------------------------------


def pykmip_round(items: int) -> tuple[Callable[[], bytes], bytes, bytes]:
    """A PyKMIP read+write round and the bytes it reads and writes."""
    from kmip.core import enums as kenums
    from kmip.core import primitives, utils
    from kmip.core.attributes import CryptographicParameters
    from kmip.core.messages import contents, messages
    from kmip.core.messages.payloads import encrypt

    kversion = kenums.KMIPVersion.KMIP_1_2

    def version() -> contents.ProtocolVersion:
        return contents.ProtocolVersion(*VERSION)

    request = messages.RequestMessage(
        request_header=messages.RequestHeader(
            protocol_version=version(), batch_count=contents.BatchCount(items)
        ),
        batch_items=[
            messages.RequestBatchItem(
                operation=contents.Operation(kenums.Operation.ENCRYPT),
                request_payload=encrypt.EncryptRequestPayload(
                    unique_identifier=UID,
                    cryptographic_parameters=CryptographicParameters(
                        block_cipher_mode=kenums.BlockCipherMode.CBC,
                        padding_method=kenums.PaddingMethod.PKCS5,
                        cryptographic_algorithm=kenums.CryptographicAlgorithm.AES,
                    ),
                    data=DATA,
                ),
            )
            for _ in range(items)
        ],
    )
    response = messages.ResponseMessage(
        response_header=messages.ResponseHeader(
            protocol_version=version(),
            time_stamp=contents.TimeStamp(NOW),
            batch_count=contents.BatchCount(items),
        ),
        batch_items=[
            messages.ResponseBatchItem(
                operation=contents.Operation(kenums.Operation.ENCRYPT),
                result_status=contents.ResultStatus(kenums.ResultStatus.SUCCESS),
                response_payload=encrypt.EncryptResponsePayload(unique_identifier=UID, data=DATA),
            )
            for _ in range(items)
        ],
    )
    stream = utils.BytearrayStream()
    request.write(stream, kmip_version=kversion)
    request_bytes = bytes(stream.buffer)
    stream = utils.BytearrayStream()
    response.write(stream, kmip_version=kversion)
    response_bytes = bytes(stream.buffer)
    del primitives

    def one_round() -> bytes:
        message = messages.RequestMessage()
        message.read(utils.BytearrayStream(request_bytes), kmip_version=kversion)
        out = utils.BytearrayStream()
        response.write(out, kmip_version=kversion)
        return bytes(out.buffer)

    return one_round, request_bytes, response_bytes


# -- timing --------------------------------------------------------------------


def best_per_call(fn: Callable[[], object], budget: float = 0.6) -> float:
    """Median of 7 repeats of a timed loop, seconds per call."""
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t
        if dt > budget / 10:
            break
        n *= 2
    samples = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile our 10-item round")
    args = parser.parse_args()

    targets = {1: 25e-6, 10: 200e-6}
    failed = False
    print(f"{'items':>5} {'ours (us)':>10} {'target':>8} {'PyKMIP (us)':>12} {'PyKMIP/ours':>12}")
    for items, target in targets.items():
        request = binary.encode(request_tree(items))
        response = response_tree(items)

        def ours(request: bytes = request, response: Node = response) -> bytes:
            binary.decode(request)
            return binary.encode(response)

        assert binary.decode(request) == request_tree(items)
        ours_t = best_per_call(ours)
        try:
            theirs, their_request, their_response = pykmip_round(items)
            same = their_request == request and their_response == binary.encode(response)
            theirs_t = best_per_call(theirs)
            theirs_s = f"{theirs_t * 1e6:12.1f}"
            ratio_s = f"{theirs_t / ours_t:11.1f}x" + ("" if same else " (bytes differ!)")
        except ImportError:
            theirs_s, ratio_s = f"{'n/a':>12}", f"{'n/a':>12}"
        ok = ours_t <= target
        failed |= not ok
        print(f"{items:5d} {ours_t * 1e6:10.1f} {target * 1e6:7.0f}{'' if ok else '!'} {theirs_s} {ratio_s}")

    if args.profile:
        import cProfile
        import pstats

        request = binary.encode(request_tree(10))
        response = response_tree(10)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(2000):
            binary.decode(request)
            binary.encode(response)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(8)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
