"""The shared SoftHSM test token for the ``test_hsm_*`` modules.

All hsm tests of a process use the one SoftHSM token of :func:`shared_token` (a PKCS#11
library is initialised once per process). Each test opens its own :class:`Pkcs11Token` in
``setUp`` and closes it in a cleanup; the tokens of one process share the login.
"""

from __future__ import annotations

from typing import Any

import pkcs11
from pkcs11 import Attribute, ObjectClass

from kmiphsm.hsm import Pkcs11Token
from tests.support.softhsm import TestToken, shared_token


def open_token(**options: Any) -> tuple[Pkcs11Token, TestToken]:
    """An open :class:`Pkcs11Token` on the shared SoftHSM test token."""
    test_token = shared_token()
    token = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin, **options)
    token.open()
    return token, test_token


def count_objects(test_token: TestToken, **query: Any) -> int:
    """Count objects through a fresh session of this process (it sees private objects while
    a ``Pkcs11Token`` is logged in). ``persistent=True/False`` selects token or session objects;
    ``object_class`` narrows to one class; ``sensitive=True/False`` to (non-)sensitive keys."""
    template: dict[Attribute, Any] = {}
    if "persistent" in query:
        template[Attribute.TOKEN] = query["persistent"]
    if "object_class" in query:
        template[Attribute.CLASS] = query["object_class"]
    if "sensitive" in query:
        template[Attribute.SENSITIVE] = query["sensitive"]
    lib = pkcs11.lib(test_token.module)
    session = lib.get_token(token_label=test_token.label).open()
    try:
        return sum(1 for _ in session.get_objects(template))
    finally:
        session.close()


SECRET = ObjectClass.SECRET_KEY
PRIVATE = ObjectClass.PRIVATE_KEY
