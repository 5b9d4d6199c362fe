"""The conformance runner's own logic, without a server: a scripted ``send`` answers each
request with the file's expected response (placeholders filled in), edited per test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from twisted.trial import unittest

from kmiphsm.ttlv import Node, Type, registry, tags
from tests.conformance import vectors
from tests.conformance.compare import TIME_SLACK
from tests.conformance.fakes import NOW, ScriptedServer, fill
from tests.conformance.runner import FileResult, run_vector
from tests.conformance.session import identity_for, series_of
from tests.conformance.transport import kind_for

FILES = vectors.find_files()
NEEDS_FILES = None if FILES else f"no OASIS test cases (set {vectors.ENV})"

# -- building small test-case files ----------------------------------------------------

VERSION = ('<ProtocolVersion><ProtocolVersionMajor type="Integer" value="2"/>'
           '<ProtocolVersionMinor type="Integer" value="1"/></ProtocolVersion>')


def request(*items: str, header: str = "") -> str:
    return (f'<RequestMessage><RequestHeader>{VERSION}{header}'
            f'<BatchCount type="Integer" value="{len(items)}"/></RequestHeader>{"".join(items)}</RequestMessage>')


def response(*items: str, header: str = "") -> str:
    return (f'<ResponseMessage><ResponseHeader>{VERSION}<TimeStamp type="DateTime" value="$NOW"/>{header}'
            f'<BatchCount type="Integer" value="{len(items)}"/></ResponseHeader>{"".join(items)}</ResponseMessage>')


def ask(op: str, payload: str = "") -> str:
    return (f'<BatchItem><Operation type="Enumeration" value="{op}"/>'
            f'<RequestPayload>{payload}</RequestPayload></BatchItem>')


def answer(op: str, payload: str | None = "", status: str = "Success", extra: str = "") -> str:
    body = "" if payload is None else f"<ResponsePayload>{payload}</ResponsePayload>"
    return (f'<BatchItem><Operation type="Enumeration" value="{op}"/>'
            f'<ResultStatus type="Enumeration" value="{status}"/>{extra}{body}</BatchItem>')


def text(tag: str, value: str) -> str:
    return f'<{tag} type="TextString" value="{value}"/>'


def data(tag: str, hex_value: str) -> str:
    return f'<{tag} type="ByteString" value="{hex_value}"/>'


def uid(n: int = 0) -> str:
    return text("UniqueIdentifier", f"$UNIQUE_IDENTIFIER_{n}")


def kmip(*messages: str) -> str:
    return "<KMIP>" + "".join(messages) + "</KMIP>"


def vector(*messages: str, name: str = "TEST-M-1-21") -> vectors.Vector:
    return vectors.parse_text(kmip(*messages), name)


SYMMETRIC_KEY = ('<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/>'
                 '<KeyValue><KeyMaterial type="ByteString" value="{}"/></KeyValue>'
                 '<CryptographicAlgorithm type="Enumeration" value="AES"/>'
                 '<CryptographicLength type="Integer" value="128"/></KeyBlock></SymmetricKey>')
KEY = "0123456789abcdef0123456789abcdef"
REGISTER = request(ask("Register", '<ObjectType type="Enumeration" value="SymmetricKey"/><Attributes/>'
                       + SYMMETRIC_KEY.format(KEY)))
CREATE = request(ask("Create", '<ObjectType type="Enumeration" value="SymmetricKey"/><Attributes/>'))
CREATED = response(answer("Create", '<ObjectType type="Enumeration" value="SymmetricKey"/>' + uid()))
REGISTERED = response(answer("Register", uid()))
GET = request(ask("Get", uid()))
GOT = response(answer("Get", '<ObjectType type="Enumeration" value="SymmetricKey"/>' + uid()
                      + SYMMETRIC_KEY.format(KEY)))


def filled(message: str) -> Node:
    """One message of XML text with its placeholders filled in as the scripted server does."""
    v = vectors.parse_text(kmip(request(), message), "X")
    return fill(v.steps[0].response, v.placeholders)


# -- editing a response ----------------------------------------------------------------


def find(node: Node, path: str) -> Node:
    """``BatchItem[2]/ResponsePayload/UniqueIdentifier`` below ``node`` (k counts from 1)."""
    for part in path.split("/"):
        name, _, index = part.partition("[")
        matches = node.children(getattr(tags, name))
        node = matches[int(index.rstrip("]")) - 1 if index else 0]
    return node


def setting(step: int, path: str, value: Any) -> Callable[[int, Node], Node]:
    def edit(index: int, message: Node) -> Node:
        if index == step:
            find(message, path).value = value
        return message
    return edit


def removing(step: int, path: str) -> Callable[[int, Node], Node]:
    def edit(index: int, message: Node) -> Node:
        if index == step:
            parent_path, _, last = path.rpartition("/")
            parent = find(message, parent_path) if parent_path else message
            parent.value.remove(find(parent, last))
        return message
    return edit


def adding(step: int, path: str, node: Node, at: int | None = None) -> Callable[[int, Node], Node]:
    def edit(index: int, message: Node) -> Node:
        if index == step:
            parent = find(message, path) if path else message
            parent.value.insert(len(parent.value) if at is None else at, node)
        return message
    return edit


def run(v: vectors.Vector, edit: Callable[[int, Node], Node] | None = None,
        send: Callable[[Node], Node] | None = None) -> tuple[FileResult, ScriptedServer]:
    server = ScriptedServer(v, edit)
    return run_vector(v, send or server, clock=server.clock), server


class Case(unittest.TestCase):
    def assertPasses(self, result: FileResult) -> None:
        self.assertTrue(result.passed, str(result))

    def assertFailsAt(self, result: FileResult, step: int, path: str) -> None:
        self.assertFalse(result.passed, "expected a failure")
        assert result.difference is not None
        self.assertEqual((result.difference.step, result.difference.path), (step, path), str(result))


# -- the files -------------------------------------------------------------------------


class VectorFileTests(Case):
    def test_files_are_in_natural_order_mandatory_first(self) -> None:
        if not FILES:
            raise unittest.SkipTest(NEEDS_FILES)
        names = [vectors.test_id(p) for p in FILES]
        self.assertLess(names.index("BL-M-2-21"), names.index("BL-M-10-21"))
        self.assertEqual([p.parent.name for p in FILES],
                         sorted((p.parent.name for p in FILES), key=("mandatory", "optional").index))

    def test_every_file_parses_into_request_response_pairs(self) -> None:
        if not FILES:
            raise unittest.SkipTest(NEEDS_FILES)
        for path in FILES:
            v = vectors.parse_file(path)
            self.assertTrue(v.steps, path.name)

    def test_placeholders_become_recognisable_sentinels(self) -> None:
        v = vector(request(ask("Register", '<Attributes><ActivationDate type="DateTime" value="$NOW-3600"/>'
                                           '</Attributes>' + data("Data", "$DATA_0"))),
                   response(answer("Register", uid(3))))
        payload = find(v.steps[0].request, "BatchItem/RequestPayload")
        date = find(payload, "Attributes/ActivationDate")
        self.assertEqual(date.type, Type.DATE_TIME)
        self.assertEqual(v.placeholders.of(date), vectors.Placeholder("$NOW-3600", "NOW", -3600))
        data_node = find(payload, "Data")
        self.assertIsInstance(data_node.value, bytes)
        self.assertEqual(v.placeholders.of(data_node).name, "DATA_0")
        ident = find(v.steps[0].response, "BatchItem/ResponsePayload/UniqueIdentifier")
        self.assertEqual(v.placeholders.of(ident).family, "UNIQUE_IDENTIFIER")
        self.assertIsNone(v.placeholders.of(Node(tags.Data, Type.BYTE_STRING, b"\x01")))

    def test_a_file_that_is_not_request_response_pairs_is_refused(self) -> None:
        with self.assertRaises(vectors.VectorError):
            vector(REGISTER)
        with self.assertRaises(vectors.VectorError):
            vector(REGISTERED, REGISTER)

    def test_vectors_folder_comes_from_the_environment(self) -> None:
        folder = Path(self.mktemp())
        (folder / "kmip-2.1" / "mandatory").mkdir(parents=True)
        (folder / "kmip-2.1" / "mandatory" / "X-M-1-21.xml").write_text(kmip(REGISTER, REGISTERED))
        old = os.environ.get(vectors.ENV)
        os.environ[vectors.ENV] = str(folder)
        self.addCleanup(lambda: os.environ.__setitem__(vectors.ENV, old) if old is not None
                        else os.environ.pop(vectors.ENV, None))
        self.assertEqual([p.name for p in vectors.find_files()], ["X-M-1-21.xml"])

    def test_every_file_passes_against_its_own_expected_responses(self) -> None:
        if not FILES:
            raise unittest.SkipTest(NEEDS_FILES)
        for path in FILES:
            result, _ = run(vectors.parse_file(path))
            self.assertPasses(result)


# -- requests ----------------------------------------------------------------------------


class SubstitutionTests(Case):
    def test_a_captured_identifier_is_sent_in_later_requests(self) -> None:
        result, server = run(vector(REGISTER, REGISTERED, GET, GOT))
        self.assertPasses(result)
        self.assertEqual(find(server.received[1], "BatchItem/RequestPayload/UniqueIdentifier").value, "uid-0")

    def test_now_in_a_request_is_the_current_time(self) -> None:
        v = vector(request(ask("Register", '<Attributes><ActivationDate type="DateTime" value="$NOW-3600"/>'
                                           '</Attributes>')), REGISTERED)
        result, server = run(v)
        self.assertPasses(result)
        self.assertEqual(find(server.received[0], "BatchItem/RequestPayload/Attributes/ActivationDate").value,
                         NOW - 3600)

    def test_a_variable_no_response_defined_fails_where_it_is_used(self) -> None:
        result, _ = run(vector(GET, GOT))
        self.assertFailsAt(result, 0, "RequestMessage/BatchItem/RequestPayload/UniqueIdentifier")

    def test_an_undefined_variable_takes_the_last_value_returned_under_its_tag(self) -> None:
        # CS-AC-M-6-21: the MAC response shows a literal, MAC Verify then sends $MAC_DATA.
        mac = "c911e78196d64c30f631bb079ea37b97"
        v = vector(REGISTER, REGISTERED,
                   request(ask("MAC", uid() + data("Data", "01"))),
                   response(answer("MAC", uid() + data("MACData", mac))),
                   request(ask("MACVerify", uid() + data("Data", "01") + data("MACData", "$MAC_DATA"))),
                   response(answer("MACVerify", uid() + '<ValidityIndicator type="Enumeration" value="Valid"/>')))
        result, server = run(v)
        self.assertPasses(result)
        self.assertEqual(find(server.received[2], "BatchItem/RequestPayload/MACData").value, bytes.fromhex(mac))


# -- responses -------------------------------------------------------------------------


class ComparisonTests(Case):
    def test_a_changed_value_fails_with_its_path(self) -> None:
        result, _ = run(vector(REGISTER, REGISTERED, GET, GOT),
                        setting(1, "BatchItem/ResponsePayload/SymmetricKey/KeyBlock/KeyValue/KeyMaterial", b"x"))
        self.assertFailsAt(result, 1, "ResponseMessage/BatchItem/ResponsePayload/SymmetricKey/KeyBlock/KeyValue/KeyMaterial")
        self.assertIn(KEY, result.difference.expected)

    def test_a_real_file_with_a_changed_value_fails_with_its_path(self) -> None:
        if not FILES:
            raise unittest.SkipTest(NEEDS_FILES)
        path = next(p for p in FILES if p.stem == "BL-M-1-21")
        result, _ = run(vectors.parse_file(path),
                        setting(3, "BatchItem/ResponsePayload/SymmetricKey/KeyBlock/CryptographicLength", 256))
        self.assertFailsAt(result, 3, "ResponseMessage/BatchItem/ResponsePayload/SymmetricKey/KeyBlock/CryptographicLength")

    def test_a_client_mistake_may_get_the_specific_reason_instead_of_general_failure(self) -> None:
        # CS-BC-M-GCM-1-21 expects General Failure for GCM Tag Length 1 and 32; KMIP 2.1
        # Table 216 gives Bad Cryptographic Parameters (compare.SPECIFIC_REASONS), and only
        # that reason, only there, is accepted in its place
        def encrypt(tag_length: int) -> str:
            return request(ask("Encrypt", uid() + "<CryptographicParameters>"
                               '<BlockCipherMode type="Enumeration" value="GCM"/>'
                               f'<TagLength type="Integer" value="{tag_length}"/>'
                               "</CryptographicParameters>" + data("Data", "01")))

        def refused(reason: str) -> str:
            return response(answer("Encrypt", None, "OperationFailed",
                                   f'<ResultReason type="Enumeration" value="{reason}"/>'))

        for tag_length, given, passes in ((1, "BadCryptographicParameters", True),
                                          (1, "InvalidField", False),
                                          (12, "BadCryptographicParameters", False)):
            v = vector(REGISTER, REGISTERED, encrypt(tag_length), refused("GeneralFailure"))
            answered = filled(refused(given))
            result, _ = run(v, lambda index, message, answered=answered: answered if index == 1 else message)
            if passes:
                self.assertPasses(result)
            else:
                self.assertFailsAt(result, 1, "ResponseMessage/BatchItem/ResultReason")

    def test_a_repeated_item_is_named_with_its_position(self) -> None:
        v = vector(request(ask("Register"), ask("Register")), response(answer("Register", uid(0)), answer("Register", uid(1))))
        result, _ = run(v, setting(0, "BatchItem[2]/ResultStatus", 1))
        self.assertFailsAt(result, 0, "ResponseMessage/BatchItem[2]/ResultStatus")

    def test_a_failed_item_says_why(self) -> None:
        failed = response(answer("Register", None, "OperationFailed",
                                 '<ResultReason type="Enumeration" value="OperationNotSupported"/>'
                                 + text("ResultMessage", "Register is not supported")))
        result, _ = run(vector(REGISTER, REGISTERED), lambda index, message: filled(failed))
        self.assertFailsAt(result, 0, "ResponseMessage/BatchItem/ResultStatus")
        self.assertIn("OperationNotSupported: 'Register is not supported'", result.difference.actual)

    def test_a_missing_item_is_reported_absent(self) -> None:
        result, _ = run(vector(REGISTER, REGISTERED), removing(0, "BatchItem/ResponsePayload/UniqueIdentifier"))
        self.assertFailsAt(result, 0, "ResponseMessage/BatchItem/ResponsePayload/UniqueIdentifier")
        self.assertEqual(result.difference.actual, "(absent)")

    def test_an_extra_item_is_reported(self) -> None:
        result, _ = run(vector(REGISTER, REGISTERED),
                        adding(0, "BatchItem/ResponsePayload", Node(tags.ObjectType, Type.ENUMERATION, 2)))
        self.assertFailsAt(result, 0, "ResponseMessage/BatchItem/ResponsePayload/ObjectType")

    def test_two_placeholders_of_identifiers_must_be_two_objects(self) -> None:
        v = vector(request(ask("Locate")), response(answer("Locate", uid(0) + uid(1))))
        result, _ = run(v, setting(0, "BatchItem/ResponsePayload/UniqueIdentifier[2]", "uid-0"))
        self.assertFailsAt(result, 0, "ResponseMessage/BatchItem/ResponsePayload/UniqueIdentifier[2]")

    def test_a_time_stamp_far_from_now_fails(self) -> None:
        result, _ = run(vector(REGISTER, REGISTERED), setting(0, "ResponseHeader/TimeStamp", NOW - TIME_SLACK - 1))
        self.assertFailsAt(result, 0, "ResponseMessage/ResponseHeader/TimeStamp")
        result, _ = run(vector(REGISTER, REGISTERED), setting(0, "ResponseHeader/TimeStamp", NOW + 30))
        self.assertPasses(result)

    def test_a_transport_failure_fails_the_file(self) -> None:
        def broken(message: Node) -> Node:
            raise ConnectionResetError("gone")
        result, _ = run(vector(REGISTER, REGISTERED), send=broken)
        self.assertFailsAt(result, 0, "(transport)")
        self.assertIn("gone", result.difference.actual)


class PermittedVariationTests(Case):
    """KMIP Additional Message Encodings 1.0, section 8.4."""

    ATTRIBUTES = ('<Attributes>' + text("UniqueIdentifier", "$UNIQUE_IDENTIFIER_0")
                  + '<CryptographicAlgorithm type="Enumeration" value="AES"/>'
                  + '<Name><NameValue type="TextString" value="TEST-M-1-21"/>'
                  + '<NameType type="Enumeration" value="UninterpretedTextString"/></Name>'
                  + '<State type="Enumeration" value="PreActive"/></Attributes>')

    def get_attributes(self) -> vectors.Vector:
        return vector(REGISTER, REGISTERED, request(ask("GetAttributes", uid())),
                      response(answer("GetAttributes", uid() + self.ATTRIBUTES)))

    def test_attributes_may_come_in_any_order_with_more_of_them(self) -> None:
        def shuffle(index: int, message: Node) -> Node:
            if index == 1:
                attributes = find(message, "BatchItem/ResponsePayload/Attributes")
                attributes.value.reverse()
                attributes.value.insert(1, Node(tags.Fresh, Type.BOOLEAN, True))
                attributes.value.append(Node(tags.ObjectGroup, Type.TEXT_STRING, "default"))
            return message
        self.assertPasses(run(self.get_attributes(), shuffle)[0])

    def test_a_missing_attribute_fails(self) -> None:
        result, _ = run(self.get_attributes(), removing(1, "BatchItem/ResponsePayload/Attributes/Name"))
        self.assertFailsAt(result, 1, "ResponseMessage/BatchItem/ResponsePayload/Attributes/Name")

    def test_a_wrong_attribute_value_fails_at_the_attribute(self) -> None:
        result, _ = run(self.get_attributes(), setting(1, "BatchItem/ResponsePayload/Attributes/State", 2))
        self.assertFailsAt(result, 1, "ResponseMessage/BatchItem/ResponsePayload/Attributes/State")

    def test_a_test_identifier_may_get_a_prefix(self) -> None:
        result, _ = run(self.get_attributes(),
                        setting(1, "BatchItem/ResponsePayload/Attributes/Name/NameValue", "vendor:TEST-M-1-21"))
        self.assertPasses(result)
        result, _ = run(self.get_attributes(),
                        setting(1, "BatchItem/ResponsePayload/Attributes/Name/NameValue", "TEST-M-1-21:x"))
        self.assertFalse(result.passed)

    def test_result_message_and_server_correlation_value_may_vary_or_be_absent(self) -> None:
        v = vector(REGISTER, response(answer("Register", uid(), extra=text("ResultMessage", "ok")),
                                      header=text("ServerCorrelationValue", "A5E8-4")))
        self.assertPasses(run(v, removing(0, "BatchItem/ResultMessage"))[0])
        self.assertPasses(run(v, setting(0, "ResponseHeader/ServerCorrelationValue", "other"))[0])
        self.assertPasses(run(v, adding(0, "BatchItem", Node(tags.ResultMessage, Type.TEXT_STRING, "x"), 2))[0])

    def test_an_echoed_client_correlation_value_must_be_the_one_sent(self) -> None:
        v = vector(request(ask("Register"), header=text("ClientCorrelationValue", "TEST step=0")), REGISTERED)
        echo = Node(tags.ClientCorrelationValue, Type.TEXT_STRING, "TEST step=0")
        self.assertPasses(run(v, adding(0, "ResponseHeader", echo, 2))[0])
        wrong = Node(tags.ClientCorrelationValue, Type.TEXT_STRING, "other")
        result, _ = run(v, adding(0, "ResponseHeader", wrong, 2))
        self.assertFailsAt(result, 0, "ResponseMessage/ResponseHeader/ClientCorrelationValue")

    def test_key_material_of_a_generated_key_may_vary_but_not_of_a_registered_one(self) -> None:
        path = "BatchItem/ResponsePayload/SymmetricKey/KeyBlock/KeyValue/KeyMaterial"
        self.assertPasses(run(vector(CREATE, CREATED, GET, GOT), setting(1, path, b"\x07" * 16))[0])
        self.assertFalse(run(vector(REGISTER, REGISTERED, GET, GOT), setting(1, path, b"\x07" * 16))[0].passed)

    def test_a_ciphertext_under_a_generated_key_varies_and_is_sent_back(self) -> None:
        cipher, plain = "fd912d102d", "0102030405"
        v = vector(CREATE, CREATED,
                   request(ask("Encrypt", uid() + data("Data", plain))),
                   response(answer("Encrypt", uid() + data("Data", cipher))),
                   request(ask("Decrypt", uid() + data("Data", cipher))),
                   response(answer("Decrypt", uid() + data("Data", plain))))
        result, server = run(v, setting(1, "BatchItem/ResponsePayload/Data", b"\xaa\xbb"))
        self.assertPasses(result)
        self.assertEqual(find(server.received[2], "BatchItem/RequestPayload/Data").value, b"\xaa\xbb")
        result, _ = run(v, setting(2, "BatchItem/ResponsePayload/Data", b"\xaa\xbb"))
        self.assertFailsAt(result, 2, "ResponseMessage/BatchItem/ResponsePayload/Data")

    def test_a_ciphertext_under_a_registered_symmetric_key_must_match(self) -> None:
        v = vector(REGISTER, REGISTERED, request(ask("Encrypt", uid() + data("Data", "01"))),
                   response(answer("Encrypt", uid() + data("Data", "fd912d102d"))))
        result, _ = run(v, setting(1, "BatchItem/ResponsePayload/Data", b"\xaa"))
        self.assertFailsAt(result, 1, "ResponseMessage/BatchItem/ResponsePayload/Data")

    def test_a_server_chosen_date_may_vary_unless_the_request_fixed_it(self) -> None:
        date = '<InitialDate type="DateTime" value="2019-01-01T00:00:00Z"/>'
        answers = response(answer("GetAttributes", uid() + f"<Attributes>{date}</Attributes>"))
        path = "BatchItem/ResponsePayload/Attributes/InitialDate"
        v = vector(REGISTER, REGISTERED, request(ask("GetAttributes", uid())), answers)
        self.assertPasses(run(v, setting(1, path, NOW - 5))[0])
        fixed = vector(request(ask("Register", f"<Attributes>{date}</Attributes>")), REGISTERED,
                       request(ask("GetAttributes", uid())), answers)
        self.assertFalse(run(fixed, setting(1, path, NOW - 5))[0].passed)

    def test_query_may_list_other_operations_but_not_omit_one_the_file_uses(self) -> None:
        ops = "".join(f'<Operation type="Enumeration" value="{op}"/>' for op in ("Query", "Register", "Poll"))
        v = vector(request(ask("Query", '<QueryFunction type="Enumeration" value="QueryOperations"/>')),
                   response(answer("Query", ops + text("VendorIdentification", "vendor.example"))),
                   REGISTER, REGISTERED)

        def server_list(*names: str) -> Callable[[int, Node], Node]:
            def edit(index: int, message: Node) -> Node:
                if index == 0:
                    payload = find(message, "BatchItem/ResponsePayload")
                    payload.value = [Node(tags.Operation, Type.ENUMERATION, registry.enum_value("Operation", n))
                                     for n in names]
                return message
            return edit

        self.assertPasses(run(v, server_list("Register", "Locate", "Query"))[0])
        result, _ = run(v, server_list("Query", "Poll"))
        self.assertFailsAt(result, 0, "ResponseMessage/BatchItem/ResponsePayload/Operation")

    def test_discover_versions_may_add_versions_when_the_client_listed_none(self) -> None:
        def pv(major: int, minor: int) -> Node:
            return Node.structure(tags.ProtocolVersion, [Node(tags.ProtocolVersionMajor, Type.INTEGER, major),
                                                         Node(tags.ProtocolVersionMinor, Type.INTEGER, minor)])
        listed = response(answer("DiscoverVersions", VERSION))
        self.assertPasses(run(vector(request(ask("DiscoverVersions")), listed),
                              adding(0, "BatchItem/ResponsePayload", pv(1, 4)))[0])
        self.assertFalse(run(vector(request(ask("DiscoverVersions", VERSION)), listed),
                             adding(0, "BatchItem/ResponsePayload", pv(1, 4)))[0].passed)


class SessionTests(unittest.TestCase):
    def test_each_file_is_its_own_client_except_the_series(self) -> None:
        self.assertEqual(identity_for("BL-M-1-21"), "kmip-BL-M-1-21")
        self.assertEqual(identity_for("TL-M-3-21"), identity_for("TL-M-2-21"))
        self.assertEqual(series_of("SASED-M-3-21"), "SASED-M")
        self.assertIsNone(series_of("SKLC-M-1-21"))

    def test_message_encoding_files_go_over_https(self) -> None:
        self.assertEqual([kind_for(n) for n in ("MSGENC-JSON-M-1-21", "MSGENC-XML-M-1-21",
                                                "MSGENC-HTTPS-M-1-21", "BL-M-1-21")],
                         ["https-json", "https-xml", "https-ttlv", "tls"])
