"""A real SMTP server for the e2e tests: aiosmtpd delivering into a Maildir.

Run with Debian's python3 (which has python3-aiosmtpd); e2e_harness.SmtpServer starts it:

    /usr/bin/python3 smtp_server.py --port 2525 --maildir DIR [--tls starttls|implicit
        --cert C --key K [--require-starttls]] [--auth USER:PASS] [--auth-without-tls]

Prints "READY <port>" on stdout once it accepts connections and runs until SIGTERM/SIGINT.
Every delivered message gets the headers aiosmtpd's Mailbox handler adds (X-Peer,
X-MailFrom, X-RcptTo: the envelope) and two of ours for the tests to check:
X-Habanero-E2E-TLS ("yes" when the session was encrypted, by STARTTLS or implicit TLS) and
X-Habanero-E2E-Auth (the login the client authenticated with, or "none").
"""
import argparse
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult


class RecordingMailbox(Mailbox):
    def prepare_message(self, session, envelope):
        message = super().prepare_message(session, envelope)
        message["X-Habanero-E2E-TLS"] = "yes" if getattr(session, "e2e_tls", False) else "no"
        login = getattr(session, "auth_data", None)
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        message["X-Habanero-E2E-Auth"] = login if session.authenticated and login else "none"
        return message

    async def handle_DATA(self, server, session, envelope):
        # STARTTLS and implicit TLS both leave an SSL object on the transport.
        session.e2e_tls = server.transport.get_extra_info("ssl_object") is not None
        result = await super().handle_DATA(server, session, envelope)
        print("delivered from=%s to=%s tls=%s auth=%s" % (
            envelope.mail_from, ",".join(envelope.rcpt_tos), session.e2e_tls,
            session.authenticated), file=sys.stderr, flush=True)
        return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--auth", help="USER:PASS; AUTH PLAIN and LOGIN are offered")
    p.add_argument("--auth-without-tls", action="store_true",
                   help="offer AUTH on an unencrypted session too")
    a = p.parse_args()

    context = None
    if a.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)

    kwargs = {"hostname": a.host, "port": a.port, "server_hostname": "localhost"}
    if a.tls == "implicit":
        kwargs["ssl_context"] = context
    elif a.tls == "starttls":
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = a.require_starttls
    if a.auth:
        user, _, password = a.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (getattr(auth_data, "login", None) == user.encode()
                  and getattr(auth_data, "password", None) == password.encode())
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # aiosmtpd counts only STARTTLS as encryption; an implicit-TLS session is encrypted
        # from its first byte.
        kwargs["auth_require_tls"] = a.tls == "starttls" and not a.auth_without_tls

    controller = Controller(RecordingMailbox(a.maildir), **kwargs)
    controller.start()
    print("READY %d" % a.port, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
