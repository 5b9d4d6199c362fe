"""The attribute operations: Get Attributes, Get Attribute List, Add Attribute, Set Attribute,
Modify Attribute, Delete Attribute (KMIP 2.1 sections 6.1.20, 6.1.21, 6.1.2, 6.1.51, 6.1.34,
6.1.13; KMIP 1.4 sections 4.12-4.16).

What a client may do to each attribute comes from the Attribute Rules of KMIP 2.1 section 4
(:mod:`kmiphsm.model.attribute_rules`):

- Add / Set of a missing attribute: the rules must let a client set it ("Initially set by"
  names the client); otherwise it is read-only for the client. A single-instance attribute
  that has a value cannot be added again.
- Modify / Set of a present attribute: "Modifiable by client" must say Yes; a rule such as
  "only while in Pre-Active state" (Activation Date) limits it to those states, and Add
  follows the same limit. Delete: "Deletable by client" must say Yes.
- Vendor attributes (KMIP 2.1 section 4.60, the KMIP 1.x custom attributes "x-name" of
  section 3.39) follow the Vendor Attribute rules, each (Vendor Identification, Attribute
  Name) pair being one attribute; those of Vendor Identification "y" belong to the server.
- Attributes KMIP 2.1 no longer has (Operation Policy Name, the 1.x certificate attributes)
  are read-only, as is any attribute without rules.
- Server policy (allowed by section 4: "The server policy MAY further restrict"): Sensitive
  and Extractable describe how the token holds the key, fixed when it was made, so they keep
  their value. Names are unique among the server's on-line and archived objects (section
  4.32). An archived object must be recovered first (KMIP 1.4 sections 11.13-11.17).

Failures raise the KMIP 2.1 reasons (Read Only Attribute for Add / Set, Attribute Read Only
for Modify / Delete, Attribute Single Valued, Attribute Not Found, Attribute Instance Not
Found, Multi Valued Attribute, Non Unique Name Attribute, Wrong Key Lifecycle State, Invalid
Attribute Value) at every version. A KMIP 1.x client gets those of its error tables (KMIP 1.4
sections 11.15-11.17): Permission Denied for read-only attributes, Illegal Operation for an
attribute that exists already or a name in use, Invalid Field for a Modify of a missing
attribute, Item Not Found for a missing instance or attribute of a Delete; the model says
which, when it writes the response (:mod:`kmiphsm.model.results`).

The object's own fields (Unique Identifier, Object Type, State) are attributes to the client;
Short Unique Identifier (KMIP 2.1 section 4.56) is derived from the Unique Identifier when it
was not stored. Every change goes through :func:`managed.load` (owner check), sets Last
Change Date, re-derives the state from its dates, and registers an undo that restores the
previous values, Last Change Date and state.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

from kmiphsm.engine import access, managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.model import attribute_values
from kmiphsm.model.attribute_rules import AttributeRule, rule
from kmiphsm.model.attributes import VENDOR_ATTRIBUTE, Attributes
from kmiphsm.model.payloads.attributes import (
    AddAttributeRequestPayload,
    AddAttributeResponsePayload,
    AttributeInstance,
    AttributeReference,
    DeleteAttributeRequestPayload,
    DeleteAttributeResponsePayload,
    GetAttributeListRequestPayload,
    GetAttributeListResponsePayload,
    GetAttributesRequestPayload,
    GetAttributesResponsePayload,
    ModifyAttributeRequestPayload,
    ModifyAttributeResponsePayload,
    SetAttributeRequestPayload,
    SetAttributeResponsePayload,
)
from kmiphsm.store import AttributeFilter, LocateQuery, StoredObject
from kmiphsm.store.interface import ARCHIVAL_STORAGE, ONLINE_STORAGE
from kmiphsm.ttlv import enums

Operation = enums.Operation
Reason = enums.ResultReason
State = enums.State

#: Vendor Identification of the server's own vendor attributes (KMIP 2.1 section 4.60).
SERVER_VENDOR = managed.SERVER_VENDOR
#: Vendor Identification: the characters KMIP 2.1 Table 150 allows.
VENDOR_IDENTIFICATION = re.compile(r"[A-Za-z0-9_.]+\Z")

#: Attributes whose values this server keeps as they were made (see the module docstring).
FIXED_BY_TOKEN = frozenset({"Sensitive", "Extractable"})

#: Rules of attributes that only KMIP 1.x defines (KMIP 1.4 section 3.18; the 1.x certificate
#: attributes of sections 3.8-3.12 are set by the server and read-only, the default).
RULES_1X: dict[str, AttributeRule] = {
    "OperationPolicyName": AttributeRule(
        name="OperationPolicyName", initially_set_by="Server or Client",
        client_modifiable="No", client_deletable="No", multiple="No"),
}


def _read_only(name: str) -> AttributeRule:
    """The rules of an attribute that the server sets and a client can only read."""
    return AttributeRule(name=name, initially_set_by="Server", client_modifiable="No",
                         client_deletable="No", multiple="No")


# -- rules ---------------------------------------------------------------------------------


def rule_of(ref: AttributeReference) -> AttributeRule:
    """The rules a client is held to for the attribute ``ref``."""
    if ref.is_vendor:
        if ref.vendor_identification == SERVER_VENDOR:
            return _read_only(VENDOR_ATTRIBUTE)
        found = rule(VENDOR_ATTRIBUTE)
        assert found is not None
        return found
    if ref.name in managed.SERVER_ONLY:
        return _read_only(ref.name)
    return rule(ref.name) or RULES_1X.get(ref.name) or _read_only(ref.name)


def allowed_states(text: str) -> frozenset[int] | None:
    """The states a rule such as "Yes, only while in Pre-Active or Active state" allows
    (None: no limit)."""
    match = re.search(r"only while in (.+?) state", text)
    if match is None:
        return None
    states = set()
    for part in re.split(r",|\bor\b", match.group(1)):
        key = part.strip().replace("-", "").replace(" ", "")
        if key in State.__members__:
            states.add(int(enums.State[key]))
    return frozenset(states)


def check_may_add(context: OperationContext, obj: StoredObject, ref: AttributeReference,
                  reason: int = Reason.ReadOnlyAttribute) -> AttributeRule:
    found = rule_of(ref)
    if not found.client_may_set:
        raise KmipError(reason, f"{ref} is read-only: a client cannot add it")
    check_state(context, obj, ref, found)
    return found


def check_may_modify(context: OperationContext, obj: StoredObject, ref: AttributeReference,
                     reason: int = Reason.AttributeReadOnly) -> AttributeRule:
    found = rule_of(ref)
    if not found.client_may_modify:
        raise KmipError(reason, f"{ref} is read-only: a client cannot modify it")
    check_state(context, obj, ref, found)
    return found


def check_state(context: OperationContext, obj: StoredObject, ref: AttributeReference,
                found: AttributeRule) -> None:
    states = allowed_states(found.client_modifiable)
    if states is not None and obj.state not in states:
        allowed = " or ".join(managed.state_name(s) for s in sorted(states))
        raise KmipError(Reason.WrongKeyLifecycleState,
                   f"{ref} can be changed only while the object is {allowed}; object "
                   f"{obj.unique_identifier!r} is {managed.state_name(obj.state)}")


def check_value(context: OperationContext, instance: AttributeInstance) -> None:
    """Invalid Attribute Value for a value the attribute cannot hold (a Name without its Name
    Value and Name Type, a negative usage count, ...; its item type the model has checked)."""
    ref = instance.reference
    value = instance.value
    if ref.is_vendor:
        if not VENDOR_IDENTIFICATION.match(ref.vendor_identification or ""):
            raise KmipError(Reason.InvalidAttributeValue, "a Vendor Identification is made of letters, digits, "
                                           "'_' and '.' (KMIP 2.1 section 4.60)")
        return
    found = attribute_values.problem(ref.name, value)
    if found is not None:
        raise KmipError(Reason.InvalidAttributeValue, found)


def check_fixed(context: OperationContext, obj: StoredObject, instance: AttributeInstance,
                reason: int) -> None:
    """Sensitive and Extractable keep the value the token key was made with."""
    if instance.name in FIXED_BY_TOKEN:
        current = managed.first(obj, instance.name)
        if current is not None and current != instance.value:
            raise KmipError(reason,
                       f"{instance.reference} is fixed when the key is made in the token")


def check_name_unique(context: OperationContext, instance: AttributeInstance) -> None:
    """Non Unique Name Attribute if an on-line or archived object has the name already
    (KMIP 2.1 section 4.32: "Names SHALL be unique within a given key management server")."""
    if instance.name != "Name":
        return
    name_value = instance.value["NameValue"]
    query = LocateQuery(**access.name_domain(context),
                        filters=[AttributeFilter("Name", {"NameValue": name_value})],
                        maximum_items=1, storage_status=ONLINE_STORAGE | ARCHIVAL_STORAGE)
    if context.store.locate(query):
        raise KmipError(Reason.NonUniqueNameAttribute, f"the Name {name_value!r} is in use")


# -- reading -------------------------------------------------------------------------------


def short_unique_identifier(unique_identifier: str) -> bytes:
    """KMIP 2.1 section 4.56: "SHOULD be generated as a SHA-256 hash of the Unique
    Identifier"."""
    return hashlib.sha256(unique_identifier.encode("utf-8")).digest()


def all_attributes(obj: StoredObject) -> Attributes:
    """Every attribute of ``obj`` as a client sees it, its own fields included."""
    result = Attributes()
    result.set_one("UniqueIdentifier", obj.unique_identifier)
    if "ShortUniqueIdentifier" not in obj.attributes:
        result.set_one("ShortUniqueIdentifier", short_unique_identifier(obj.unique_identifier))
    result.set_one("ObjectType", int(obj.object_type))
    for name, values in obj.attributes.items():
        if values:
            result[name] = list(values)
    result.set_one("State", int(obj.state))
    return result


def references(attributes: Attributes) -> list[AttributeReference]:
    """One reference per attribute, one per vendor attribute (in order of appearance)."""
    found: dict[AttributeReference, None] = {}
    for name, values in attributes.items():
        for value in values:
            found.setdefault(AttributeReference.of(name, value))
    return list(found)


def instances(obj: StoredObject, ref: AttributeReference) -> list[int]:
    """Positions in ``obj.attributes[ref.name]`` of the instances of ``ref``."""
    return [position for position, value in enumerate(obj.attributes.get(ref.name, []))
            if ref.matches(ref.name, value)]


def load_unarchived(context: OperationContext, unique_identifier: Any) -> StoredObject:
    """:func:`managed.load` (Object Not Found for a missing object: KMIP 2.1 Tables 169, 204,
    225, 228, 267, 324; Item Not Found at 1.x, :mod:`kmiphsm.model.results`), and Object
    Archived for an archived object (KMIP 1.4 sections 11.13-11.17: Recover it first)."""
    obj = managed.load(context, unique_identifier)
    if obj.archived:
        raise KmipError(Reason.ObjectArchived,
                        f"object {obj.unique_identifier!r} is archived: Recover it first")
    return obj


@handler(Operation.GetAttributes)
def get_attributes(context: OperationContext,
                   payload: GetAttributesRequestPayload) -> GetAttributesResponsePayload:
    """KMIP 2.1 section 6.1.20, KMIP 1.4 section 4.12: the named attributes (all if none is
    named); an attribute without a value is left out."""
    obj = load_unarchived(context, payload.unique_identifier)
    everything = all_attributes(obj)
    wanted = payload.attribute_reference
    if not wanted:
        return GetAttributesResponsePayload(obj.unique_identifier, everything)
    if len(set(wanted)) != len(wanted):
        raise KmipError(Reason.InvalidMessage,
                        "the same attribute is named more than once in the request")
    selected = Attributes()
    for ref in wanted:
        for value in everything.get(ref.name, []):
            if ref.matches(ref.name, value):
                selected.add(ref.name, value)
    return GetAttributesResponsePayload(obj.unique_identifier, selected)


@handler(Operation.GetAttributeList)
def get_attribute_list(context: OperationContext, payload: GetAttributeListRequestPayload
                       ) -> GetAttributeListResponsePayload:
    """KMIP 2.1 section 6.1.21, KMIP 1.4 section 4.13: the attributes the object has."""
    obj = load_unarchived(context, payload.unique_identifier)
    return GetAttributeListResponsePayload(obj.unique_identifier,
                                           references(all_attributes(obj)))


# -- changing ------------------------------------------------------------------------------


def write(context: OperationContext, obj: StoredObject, name: str, values: list[Any]) -> None:
    """Store ``values`` as every instance of ``name``, set Last Change Date, move the object
    to the state its dates now give, and register the undo of all three."""
    store = context.store
    uid = obj.unique_identifier
    old_values = list(obj.attributes.get(name, []))
    old_change = list(obj.attributes.get("LastChangeDate", []))
    old_state = obj.state
    store.set_attribute(uid, name, list(values))
    if values:
        obj.attributes[name] = list(values)
    else:
        obj.attributes.pop(name, None)
    managed.touch(context, obj)
    managed.refresh_state(context, obj)
    new_state = obj.state

    def undo() -> None:
        store.set_attribute(uid, name, old_values)
        store.set_attribute(uid, "LastChangeDate", old_change)
        if new_state != old_state:
            store.update_state(uid, old_state)

    context.on_undo(undo)


def changing(context: OperationContext,
             change: Callable[[], Any]) -> Any:
    """Run ``change`` (load, check, write) in one store transaction, so that two clients
    changing instances of one attribute do not lose either change (within a transaction
    already open, in that one)."""
    with managed.joined_transaction(context.store):
        return change()


@handler(Operation.AddAttribute)
def add_attribute(context: OperationContext,
                  payload: AddAttributeRequestPayload) -> AddAttributeResponsePayload:
    """KMIP 2.1 section 6.1.2, KMIP 1.4 section 4.14: a new instance; existing values stay."""
    new = payload.new_attribute
    if new.index is not None:
        raise KmipError(Reason.InvalidField,
                        "Add Attribute takes no Attribute Index: the server assigns it")

    def change() -> AddAttributeResponsePayload:
        obj = load_unarchived(context, payload.unique_identifier)
        ref = new.reference
        found = check_may_add(context, obj, ref)
        check_value(context, new)
        present = instances(obj, ref)
        if present and not found.multi_instance:
            raise KmipError(Reason.AttributeSingleValued,
                       f"{ref} has a value already and takes only one: use Modify Attribute")
        check_name_unique(context, new)
        write(context, obj, ref.name, [*obj.attributes.get(ref.name, []), new.value])
        return AddAttributeResponsePayload(
            obj.unique_identifier, AttributeInstance(new.name, new.value, len(present)))

    return changing(context, change)


@handler(Operation.SetAttribute)
def set_attribute(context: OperationContext,
                  payload: SetAttributeRequestPayload) -> SetAttributeResponsePayload:
    """KMIP 2.1 section 6.1.51: add the attribute if the object has none, replace it if it
    has one, fail if it has several."""
    new = payload.new_attribute

    def change() -> SetAttributeResponsePayload:
        obj = load_unarchived(context, payload.unique_identifier)
        ref = new.reference
        present = instances(obj, ref)
        if len(present) > 1:
            raise KmipError(Reason.MultiValuedAttribute,
                       f"{ref} has {len(present)} instances: use Modify Attribute")
        if present:
            check_may_modify(context, obj, ref, Reason.ReadOnlyAttribute)
            check_fixed(context, obj, new, Reason.ReadOnlyAttribute)
        else:
            check_may_add(context, obj, ref)
        check_value(context, new)
        values = list(obj.attributes.get(ref.name, []))
        if present:
            if values[present[0]] != new.value:
                check_name_unique(context, new)
            values[present[0]] = new.value
        else:
            check_name_unique(context, new)
            values.append(new.value)
        write(context, obj, ref.name, values)
        return SetAttributeResponsePayload(obj.unique_identifier)

    return changing(context, change)


@handler(Operation.ModifyAttribute)
def modify_attribute(context: OperationContext,
                     payload: ModifyAttributeRequestPayload) -> ModifyAttributeResponsePayload:
    """KMIP 2.1 section 6.1.34, KMIP 1.4 section 4.15: change one existing instance, named
    by its Current Attribute (2.x) or Attribute Index (1.x), or the only one."""
    new = payload.new_attribute
    current = payload.current_attribute

    def change() -> ModifyAttributeResponsePayload:
        obj = load_unarchived(context, payload.unique_identifier)
        ref = new.reference
        if current is not None and current.reference != ref:
            raise KmipError(Reason.InvalidField,
                            "Current Attribute and New Attribute name different attributes")
        check_may_modify(context, obj, ref)
        check_fixed(context, obj, new, Reason.AttributeReadOnly)
        check_value(context, new)
        present = instances(obj, ref)
        if not present:
            raise KmipError(Reason.AttributeNotFound,
                       f"object {obj.unique_identifier!r} has no {ref}: use Add Attribute")
        values = list(obj.attributes[ref.name])
        if new.index is not None:
            if new.index >= len(present):
                raise KmipError(Reason.AttributeInstanceNotFound,
                           f"{ref} has no instance {new.index} ({len(present)} present)")
            which = new.index
        elif current is not None:
            matching = [i for i, position in enumerate(present)
                        if values[position] == current.value]
            if not matching:
                raise KmipError(Reason.AttributeInstanceNotFound,
                           f"{ref} has no instance with the Current Attribute's value")
            which = matching[0]
        elif len(present) > 1:
            raise KmipError(Reason.MultiValuedAttribute,
                       f"{ref} has {len(present)} instances: name the one to modify "
                       "with a Current Attribute")
        else:
            which = 0
        if values[present[which]] != new.value:
            check_name_unique(context, new)
        values[present[which]] = new.value
        write(context, obj, ref.name, values)
        return ModifyAttributeResponsePayload(
            obj.unique_identifier, AttributeInstance(new.name, new.value, which))

    return changing(context, change)


@handler(Operation.DeleteAttribute)
def delete_attribute(context: OperationContext,
                     payload: DeleteAttributeRequestPayload) -> DeleteAttributeResponsePayload:
    """KMIP 2.1 section 6.1.13, KMIP 1.4 section 4.16: delete the instance named by Current
    Attribute or Attribute Index, or every instance of an Attribute Reference."""
    current = payload.current_attribute
    ref = current.reference if current is not None else payload.attribute_reference
    if ref is None:
        raise KmipError(Reason.InvalidMessage,
                        "Delete Attribute needs a Current Attribute or an Attribute Reference")
    if payload.attribute_reference is not None and payload.attribute_reference != ref:
        raise KmipError(Reason.InvalidField,
                        "Current Attribute and Attribute Reference name different attributes")

    def change() -> DeleteAttributeResponsePayload:
        obj = load_unarchived(context, payload.unique_identifier)
        if not rule_of(ref).client_may_delete:
            raise KmipError(Reason.AttributeReadOnly, f"{ref} cannot be deleted by a client")
        present = instances(obj, ref)
        if not present:
            raise KmipError(Reason.AttributeNotFound, f"object {obj.unique_identifier!r} has no {ref}")
        values = list(obj.attributes[ref.name])
        if current is not None:
            matching = [i for i, position in enumerate(present)
                        if values[position] == current.value]
            if not matching:
                raise KmipError(Reason.AttributeInstanceNotFound,
                           f"{ref} has no instance with the Current Attribute's value")
            doomed = [matching[0]]
        elif payload.attribute_index is not None:
            if payload.attribute_index >= len(present):
                raise KmipError(Reason.AttributeInstanceNotFound,
                           f"{ref} has no instance {payload.attribute_index} "
                           f"({len(present)} present)")
            doomed = [payload.attribute_index]
        else:
            doomed = list(range(len(present)))
        first = doomed[0]
        deleted = AttributeInstance(ref.name, values[present[first]], first)
        positions = {present[i] for i in doomed}
        write(context, obj, ref.name,
              [value for position, value in enumerate(values) if position not in positions])
        return DeleteAttributeResponsePayload(obj.unique_identifier, deleted)

    return changing(context, change)
