#!/usr/bin/env python3
"""An SMTP sink (aiosmtpd, Debian's python3-aiosmtpd) that reports every message as it
arrives and can hold one delivery open, for tests that kill a server mid-delivery.

    holding_smtp_sink.py --port P [--delay-ms D] [--hold-subject-prefix PREFIX [--hold-nth N]]

Prints one JSON object per line on stdout:
    {"kind": "ready", "port": P}
    {"kind": "data", "seq": N, "subject": S, "text": T}   a message's DATA arrived (before
                                                          the delay or the hold)
    {"kind": "hold", "seq": N, "subject": S}              the N-th message (default the
                                                          first) whose subject starts with
                                                          PREFIX is held: no reply until
                                                          "release" on stdin
    {"kind": "accepted", "seq": N, "subject": S}          250 sent
Every message is answered after D ms (so deliveries take a while and a kill can land
during one). Runs until stdin closes or SIGTERM.
"""
import argparse
import asyncio
import email
import email.policy
import json
import signal
import sys
import threading

from aiosmtpd.controller import Controller

out_lock = threading.Lock()


def emit(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class Handler:
    def __init__(self, delay_ms, hold_prefix, hold_nth):
        self.delay_s = delay_ms / 1000.0
        self.hold_prefix = hold_prefix
        self.hold_nth = hold_nth
        self.matched = 0
        self.held = False
        self.seq = 0
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        seq = self.seq
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        subject = str(message.get("Subject", ""))
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        emit({"kind": "data", "seq": seq, "subject": subject, "text": text.strip()})
        if self.hold_prefix and subject.startswith(self.hold_prefix):
            self.matched += 1
        if self.hold_prefix and not self.held and self.matched == self.hold_nth:
            self.held = True
            emit({"kind": "hold", "seq": seq, "subject": subject})
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        emit({"kind": "accepted", "seq": seq, "subject": subject})
        return "250 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--hold-subject-prefix", default="")
    p.add_argument("--hold-nth", type=int, default=1)
    a = p.parse_args()
    if a.hold_nth < 1:
        p.error("--hold-nth must be at least 1")
    handler = Handler(a.delay_ms, a.hold_subject_prefix, a.hold_nth)
    controller = Controller(handler, hostname="127.0.0.1", port=a.port)
    controller.start()
    emit({"kind": "ready", "port": a.port})
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def read_stdin():
        for line in sys.stdin:
            if line.strip() == "release":
                handler.release.set()
        done.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    done.wait()
    handler.release.set()
    controller.stop()


if __name__ == "__main__":
    main()
