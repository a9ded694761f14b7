"""A real Jupyter kernel for tests and benchmarks: execute code, collect iopub messages."""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass, field

from jupyter_client.manager import start_new_kernel


@dataclass
class Execution:
    msg_id: str
    reply: dict
    messages: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # request sent -> execute_reply received

    @property
    def ok(self) -> bool:
        return self.reply["content"]["status"] == "ok"

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")

    @property
    def error(self) -> dict | None:
        return None if self.ok else self.reply["content"]


class Kernel:
    """``with Kernel() as k: k.run("1+1")`` — a kernel of this interpreter, shut down after."""

    def __init__(self, startup: str = ""):
        self.km, self.kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
        self.stray: list[dict] = []  # iopub messages not belonging to a cell we waited on
        if startup:
            self.run(startup, check=True)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)

    def send(self, code: str) -> str:
        return self.kc.execute(code, store_history=False)

    def wait(self, msg_id: str, timeout: float = 60, sent: float | None = None) -> Execution:
        """The reply and every iopub message of ``msg_id`` up to its ``idle`` status."""
        deadline = time.monotonic() + timeout
        reply, seconds = None, 0.0
        while reply is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no execute_reply within {timeout}s")
            try:
                msg = self.kc.get_shell_msg(timeout=left)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                reply = msg
                seconds = time.monotonic() - sent if sent is not None else 0.0
        ex = Execution(msg_id, reply, seconds=seconds)
        while True:
            left = deadline - time.monotonic()
            msg = self.kc.get_iopub_msg(timeout=max(left, 0.1))
            if msg["parent_header"].get("msg_id") != msg_id:
                self.stray.append(msg)
                continue
            ex.messages.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return ex

    def run(self, code: str, timeout: float = 60, check: bool = False) -> Execution:
        sent = time.monotonic()
        ex = self.wait(self.send(code), timeout, sent)
        if check and not ex.ok:
            raise AssertionError(f"cell failed: {ex.error}")
        return ex

    def drain(self, seconds: float, until=None) -> list[dict]:
        """iopub messages arriving in the next ``seconds`` (stop early when ``until(msg)``)."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            out.append(msg)
            if until is not None and until(msg):
                break
        self.stray.extend(out)
        return out


def comm_traffic(messages: list[dict], msg_id: str) -> tuple[int, int]:
    """(bytes, messages) of widget comm traffic attributed to cell ``msg_id``: each
    ``comm_open`` / ``comm_msg`` as JSON (header, parent header, metadata, content) plus its
    binary buffers, about what travels over the wire."""
    size = count = 0
    for m in messages:
        if m["msg_type"] in ("comm_open", "comm_msg") and \
                m["parent_header"].get("msg_id") == msg_id:
            parts = {k: m.get(k) for k in ("header", "parent_header", "metadata", "content")}
            size += len(json.dumps(parts, default=str)) + sum(len(b) for b in m.get("buffers", []))
            count += 1
    return size, count
