"""Processes and sockets of a running server, read from Linux's /proc (the worker tests,
the crash and stress tests): a process's children and descendants, whether it is alive,
which process holds the server end of a connection; and waiting for a condition."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


def children(pid: int) -> set[int]:
    """Live child processes of ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def server_socket_inode(server_port: int, client_port: int) -> int | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], int(fields[9])
            if (int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == client_port and inode):
                return inode
    return None


def serving_pid(connection: socket.socket, server_port: int, candidates: set[int]) -> int | None:
    """The process among ``candidates`` holding the server end of ``connection``."""
    inode = server_socket_inode(server_port, connection.getsockname()[1])
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in candidates:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def descendants(pid: int) -> list[int]:
    """Live descendants of ``pid``, children before their own children (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, p in parents.items() if p == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def wait_until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    """The first true value of ``condition()``, polled every 0.1 s; AssertionError (naming
    ``what``) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def rss(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (``VmRSS`` of /proc; Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for process {pid}")
