"""Chores an operator runs on the server machine, beside a running server: master-key
rotation (:mod:`~kmiphsm.admin.rotation`), backup and restore of the metadata store
(:mod:`~kmiphsm.admin.backup`). They use the token and the store directly, as the server's
worker processes do, and never see key material in plaintext. The ``kmiphsm`` command
(:mod:`kmiphsm.cli`) is their front end.
"""
