#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for mail_test.cc.

    smtp_server.py --maildir DIR [--host 127.0.0.1] [--starttls CERT KEY | --implicit-tls CERT KEY]
                   [--auth USER PASSWORD]

Stores accepted mail in the Maildir DIR. Recipients whose local part starts
with "reject" get 550 (permanent), with "later" 451 (temporary). Prints
"PORT <n>" once listening and stops when its stdin closes (the test exits).
"""
import argparse
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 No such user here"
        if address.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def free_port(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--maildir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", nargs=2, metavar=("USER", "PASSWORD"))
    a = p.parse_args()

    kwargs = {}
    if a.starttls or a.implicit_tls:
        cert, key = a.starttls or a.implicit_tls
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        if a.starttls:
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=ctx)
    if a.auth:
        user, password = a.auth[0].encode(), a.auth[1].encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user
                  and auth_data.password == password)
            return AuthResult(success=ok, handled=False)

        # With implicit TLS aiosmtpd 1.4 does not know the session is encrypted,
        # so it would never offer AUTH if it had to wait for TLS.
        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=bool(a.starttls))

    port = free_port(a.host)
    controller = Controller(Handler(a.maildir), hostname=a.host, port=port, **kwargs)
    controller.start()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()  # until the test closes the pipe or exits
    controller.stop()


if __name__ == "__main__":
    main()
