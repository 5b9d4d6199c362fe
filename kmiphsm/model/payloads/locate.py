"""Locate payloads (KMIP 2.1 section 6.1.28; KMIP 1.4 section 4.9).

The filter attributes are an :class:`~kmiphsm.model.attributes.Attributes` in every version:
a 2.x ``Attributes`` structure (which MAY be empty), or the 1.x run of ``Attribute``
structures (their Attribute Index "SHALL be ignored by the server"). Offset Items and Located
Items are written from KMIP 1.3 on, Object Group Member from KMIP 1.1 on.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmiphsm.model.attributes import Attributes
from kmiphsm.model.codec import ATTRIBUTE_LIST, ENUMERATION, INTEGER, TEXT_STRING, Structure, field
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.model.version import V1_1, V1_3
from kmiphsm.ttlv import enums


@request_payload(enums.Operation.Locate)
@dataclass
class LocateRequestPayload(Structure):
    maximum_items: int | None = field("MaximumItems", INTEGER)
    offset_items: int | None = field("OffsetItems", INTEGER, since=V1_3)
    storage_status_mask: int | None = field("StorageStatusMask", INTEGER)
    object_group_member: int | None = field("ObjectGroupMember", ENUMERATION, since=V1_1)
    attributes: Attributes = field("Attributes", ATTRIBUTE_LIST)


@response_payload(enums.Operation.Locate)
@dataclass
class LocateResponsePayload(Structure):
    located_items: int | None = field("LocatedItems", INTEGER, since=V1_3)
    unique_identifier: list[str] = field("UniqueIdentifier", TEXT_STRING, repeated=True)


__all__ = ["LocateRequestPayload", "LocateResponsePayload"]
