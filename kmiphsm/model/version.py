"""Protocol Version (KMIP 2.1 section 9.16) and the versions this server speaks."""

from __future__ import annotations

from dataclasses import dataclass

from kmiphsm.model.errors import ModelError
from kmiphsm.ttlv import Node, Type, tags


@dataclass(frozen=True, order=True)
class ProtocolVersion:
    protocol_version_major: int
    protocol_version_minor: int

    @property
    def major(self) -> int:
        return self.protocol_version_major

    @property
    def minor(self) -> int:
        return self.protocol_version_minor

    @property
    def is_1x(self) -> bool:
        """KMIP 1.x forms (Template-Attribute, Attribute Name/Value) are in use."""
        return self.protocol_version_major < 2

    def __str__(self) -> str:
        return f"{self.protocol_version_major}.{self.protocol_version_minor}"

    @classmethod
    def from_node(cls, node: Node, version: "ProtocolVersion | None" = None) -> "ProtocolVersion":
        if node.type != Type.STRUCTURE:
            raise ModelError("ProtocolVersion must be a Structure")
        values = []
        for tag, name in ((tags.ProtocolVersionMajor, "ProtocolVersionMajor"),
                          (tags.ProtocolVersionMinor, "ProtocolVersionMinor")):
            found = node.children(tag)
            if len(found) != 1 or found[0].type != Type.INTEGER:
                raise ModelError(f"ProtocolVersion needs one Integer {name}")
            values.append(found[0].value)
        return cls(values[0], values[1])

    def to_node(self, version: "ProtocolVersion | None" = None,
                tag: int = tags.ProtocolVersion) -> Node:
        return Node.structure(tag, [
            Node.integer(tags.ProtocolVersionMajor, self.protocol_version_major),
            Node.integer(tags.ProtocolVersionMinor, self.protocol_version_minor)])


V1_0 = ProtocolVersion(1, 0)
V1_1 = ProtocolVersion(1, 1)
V1_2 = ProtocolVersion(1, 2)
V1_3 = ProtocolVersion(1, 3)
V1_4 = ProtocolVersion(1, 4)
V2_0 = ProtocolVersion(2, 0)
V2_1 = ProtocolVersion(2, 1)

#: Every version the server speaks, in its order of preference (newest first).
SUPPORTED_VERSIONS: tuple[ProtocolVersion, ...] = (V2_1, V2_0, V1_4, V1_3, V1_2, V1_1, V1_0)
LATEST = V2_1


def negotiate(requested: ProtocolVersion) -> ProtocolVersion | None:
    """The version to answer a request of ``requested`` in, or None for an unknown major.

    KMIP 2.1 section 9.16: versions of one major version are backward compatible, so a
    newer minor than ours (1.5, 2.2) is answered in our newest minor of that major, and its
    unknown fields are ignored (KMIP 1.4 section 11.1).
    """
    same_major = [v for v in SUPPORTED_VERSIONS if v.major == requested.major]
    if not same_major:
        return None
    if requested in same_major:
        return requested
    newest = same_major[0]
    return newest if requested > newest else None
