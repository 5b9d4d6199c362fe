"""The ``kmiphsm`` command (console script, and ``python -m kmiphsm``): server administration
on the server machine (:mod:`kmiphsm.cli.admin`). See :mod:`kmiphsm.cli.main`."""
