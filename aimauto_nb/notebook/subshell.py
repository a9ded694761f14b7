"""The panel's widget messages handled while the main shell is busy (a cell blocked in
``search.wait()`` or ``%%aimsearch --wait``): their comms are routed to a kernel subshell,
a thread of ipykernel >= 7 with its own message loop, so a click on Stop, the picker or
*use this model* is handled at once instead of after the cell.

ipykernel's shell-channel thread asks each comm where its messages go
(``comm._reply_subshell_for``); the panel's comms answer with one subshell this module
creates per kernel through the channel ipykernel's control thread uses for
``create_subshell_request``. Where any of that is missing (ipykernel 6, another kernel),
nothing is routed and clicks wait for the cell as before.
"""

from __future__ import annotations

import threading

__all__ = ["route_to_subshell", "subshell_id"]

_LOCK = threading.Lock()
_IDS: dict[int, str | None] = {}  # id(kernel) -> its subshell (None: cannot have one)


def _create(kernel) -> str | None:
    if not getattr(kernel, "_supports_kernel_subshells", False):
        return None
    pair = kernel.shell_channel_thread.manager.control_to_shell_channel
    sock = pair.from_socket
    sock.send_json({"type": "create"})
    if not sock.poll(5000):
        return None
    reply = sock.recv_json()
    return reply.get("subshell_id") if reply.get("status") == "ok" else None


def subshell_id() -> str | None:
    """This kernel's subshell for widget messages, created on first use; None where the
    kernel has no subshells."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
    except ImportError:
        return None
    if kernel is None:
        return None
    with _LOCK:
        if id(kernel) not in _IDS:
            try:
                _IDS[id(kernel)] = _create(kernel)
            except Exception:  # private parts of ipykernel moved: clicks wait for the cell
                _IDS[id(kernel)] = None
        return _IDS[id(kernel)]


def route_to_subshell(widgets) -> bool:
    """Route the frontend's messages for ``widgets`` to the subshell; True when routed."""
    sid = subshell_id()
    if sid is None:
        return False
    comms = [getattr(w, "comm", None) for w in widgets]
    if not all(c is not None and hasattr(c, "_reply_subshell_for") for c in comms):
        return False
    for c in comms:
        c._reply_subshell_for = lambda data, default, sid=sid: sid
    return True
