"""What the supervisor hands a worker process besides its configuration: the file
descriptors it inherits, and the field of the log event by which it says it serves.

Both sides import these from here (:mod:`kmiphsm.server.supervisor` spawns,
:mod:`kmiphsm.server.worker` adopts), so neither imports the other.
"""

#: the KMIP (TTLV over TLS) listening socket
KMIP_FD = 3
#: the HTTPS listening socket
HTTPS_FD = 4
#: the pipe for the worker's log events, one JSON object per line
EVENTS_FD = 5
#: the field of the log event that says "serving"
READY = "kmiphsm_worker_ready"
