"""Locate (KMIP 2.1 section 6.1.28, KMIP 1.4 section 4.9): the caller's objects matching every
attribute of the request, newest first.

- Matching is the store's (:mod:`kmiphsm.store.filters`): equal values, structures with the
  fields given (Name by its Name Value, Link by its Linked Object Identifier ...), every bit of
  a Cryptographic Usage Mask, Usage Limits at least as large, one Date attribute for an exact
  time or two for an inclusive range; Unique Identifier, Object Type and State test the
  object itself. Vendor (1.x custom) attributes match on Vendor Identification, Attribute
  Name and Attribute Value. An empty request matches every object.
- Only the objects the caller may Locate are searched, in the store's query: its own, those
  a Locate grant reaches, its scope's for an administrator (:func:`access.visibility`); on-line objects unless the Storage Status Mask asks for
  archived or destroyed ones.
- Cosmian KMS's tags (the ``cosmian``/``tag`` vendor attribute, :mod:`kmiphsm.engine.tagging`)
  match every object carrying all the tags listed, and the system tags (``_kk`` ...) its type.
- Offset Items are skipped, then at most Maximum Items are returned. Located Items, the count
  of all matches (written from KMIP 1.3 on), is returned when the request pages with Offset
  Items or Maximum Items: the response "MAY include" it, and the OASIS test cases, which do
  not page, expect it absent. When the page itself shows the count (fewer hits than Maximum
  Items) no second query is made.
- Object Group Member (with an Object Group among the attributes): Group Member Fresh matches
  the group's objects whose Fresh attribute is still True; Group Member Default is, by this
  server's policy, the group's newest matching object.
- One identifier returned: the engine makes it the ID Placeholder. Several matched while up to
  more than one could be returned: the ID Placeholder is emptied, so that a later batch item
  without a Unique Identifier fails rather than act on an arbitrary object.
"""

from __future__ import annotations

from typing import Any, Mapping

from kmiphsm.engine import access, managed, tagging
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.model.payloads.locate import LocateRequestPayload, LocateResponsePayload
from kmiphsm.store import AttributeFilter, LocateQuery
from kmiphsm.ttlv import enums

Operation = enums.Operation
Reason = enums.ResultReason
Member = enums.ObjectGroupMember


def tagged(context: OperationContext, query: LocateQuery, required: set[str]
           ) -> tuple[list[str], int]:
    """A Locate by tags (:mod:`kmiphsm.engine.tagging`): every match, then the page asked."""
    everything = tagging.matching(context.store, query.owner, required, query.filters,
                                  storage_status=query.storage_status,
                                  grantees=query.grantees, scoped=query.scoped,
                                  scope=query.scope)
    start = query.offset_items
    end = None if query.maximum_items is None else start + query.maximum_items
    return everything[start:end], len(everything)


def filters(attributes: Mapping[str, list[Any]]) -> list[AttributeFilter]:
    """One store filter per attribute value of the request (their item types are the
    attributes' own: the model checks them, :mod:`kmiphsm.model.attribute_types`). A Unique
    Identifier filter names one object by its text: Invalid Field (KMIP 2.1 Table 249) for a
    2.x placeholder enumeration or index there, which would silently match nothing."""
    result = []
    for name, values in attributes.items():
        for value in values:
            if name == "UniqueIdentifier" and not isinstance(value, str):
                raise KmipError(Reason.InvalidField,
                                f"Unique Identifier cannot be {value!r}: no object could match")
            result.append(AttributeFilter(name, value))
    return result


#: State -> the date attribute whose passing moves an object out of it (KMIP 2.1 section 3.x).
DATE_DRIVEN: tuple[tuple[int, str], ...] = (
    (enums.State.PreActive, "ActivationDate"),
    (enums.State.Active, "DeactivationDate"),
)


def bring_states_up_to_date(context: OperationContext) -> None:
    """Objects whose Activation or Deactivation Date has passed change state when they are
    next loaded (:func:`managed.refresh_state`); before a Locate that filters on State, load
    the caller's objects that are due, so the State filter sees what a Get would."""
    now = managed.now(context)
    visible = access.visibility(context)
    for state, date in DATE_DRIVEN:
        due = context.store.locate(LocateQuery(**visible, filters=[
            AttributeFilter("State", int(state)), AttributeFilter(date, managed.EPOCH),
            AttributeFilter(date, now)]))
        for uid in due:
            managed.load(context, uid)


@handler(Operation.Locate)
def locate(context: OperationContext, payload: LocateRequestPayload) -> LocateResponsePayload:
    attributes, required_tags = tagging.split_filter(payload.attributes)
    conditions = filters(attributes)
    maximum = payload.maximum_items
    member = payload.object_group_member
    if member is not None:
        if "ObjectGroup" not in payload.attributes:
            raise KmipError(Reason.InvalidField,
                            "Object Group Member needs an Object Group among the attributes")
        if member == Member.GroupMemberFresh:
            conditions.append(AttributeFilter("Fresh", True))
        elif member == Member.GroupMemberDefault:
            maximum = 1 if maximum is None else min(maximum, 1)
        else:
            raise KmipError(Reason.InvalidField, f"unknown Object Group Member {int(member):#x}")
    query = LocateQuery(**access.visibility(context), filters=conditions,
                        maximum_items=maximum, offset_items=payload.offset_items or 0,
                        storage_status=payload.storage_status_mask)
    store = context.store
    if "State" in payload.attributes:
        bring_states_up_to_date(context)
    paging = payload.maximum_items is not None or payload.offset_items is not None
    # a filter the store cannot represent is its InvalidValueError: Invalid Field (errors.py)
    if required_tags:
        found, total = tagged(context, query, required_tags)
    elif paging:  # the page and its Located Items count in one statement
        found, total = store.locate_page(query)
    else:
        found = store.locate(query)
        total = len(found)
    if total > 1 and (maximum is None or maximum > 1):
        context.batch.id_placeholder = None
    return LocateResponsePayload(located_items=total if paging else None,
                                 unique_identifier=found)
