#!/usr/bin/env python3
"""A small HTTP(S) test server for fetch_test.cc and sms_test.cc.

    http_server.py [--tls CERT KEY]

Prints "PORT <n>" once listening on 127.0.0.1 and stops when stdin closes.
Routes (GET unless noted):
  /hello                 200 text/plain, two Link headers
  /echo-accept           the Accept header as the body, Cache-Control: max-age=60
  /redirect?to=URL       302 to URL
  /chain?n=N             302 to /chain?n=N-1 until 0, then 200 "end"
  /count?id=X[&cc=V][&expires=S]
                         body = how many times /count?id=X was requested; Cache-Control: V;
                         Expires: now + S seconds
  /big?n=N[&stream=1]    N bytes; with stream=1 no Content-Length (close-delimited)
  /slow                  answers after 3 s
  /cgi-bin/sendsms       Kannel-shaped answer: 202 "0: Accepted for delivery", 403 when
                         username != "kuser" or password != "k p@ss"
  POST /<base>/2010-04-01/Accounts/<SID>/Messages.json
                         Twilio-shaped answer: 201; To +15550000400 → 400 JSON error,
                         +15550000429 → 429, +15550000500 → 500
  /captured              JSON list of every sendsms / Messages.json request seen
This only imitates the providers' request/answer shape for unit tests; the
real Kannel runs in tests/e2e.
"""
import argparse
import email.utils
import json
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
captured = []
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=(), content_type="text/plain; charset=utf-8",
              length=True):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/hello":
            self.reply(200, "hello", [("Link", '<https://example.org/a>; rel="alternate"'),
                                      ("Link", '</b>; rel="describedby"')])
        elif url.path == "/echo-accept":
            self.reply(200, self.headers.get("Accept", ""), [("Cache-Control", "max-age=60")])
        elif url.path == "/redirect":
            self.reply(int(q.get("code", "302")), "", [("Location", q["to"])])
        elif url.path == "/chain":
            n = int(q.get("n", "0"))
            if n > 0:
                self.reply(302, "", [("Location", f"/chain?n={n - 1}")])
            else:
                self.reply(200, "end")
        elif url.path == "/count":
            with lock:
                counts[q["id"]] = counts.get(q["id"], 0) + 1
                n = counts[q["id"]]
            headers = []
            if "cc" in q:
                headers.append(("Cache-Control", q["cc"]))
            if "expires" in q:
                headers.append(("Expires", email.utils.formatdate(
                    time.time() + int(q["expires"]), usegmt=True)))
            self.reply(200, str(n), headers)
        elif url.path == "/big":
            n = int(q["n"])
            if q.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    while n > 0:
                        self.wfile.write(chunk[:n])
                        n -= len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            else:
                self.reply(200, b"x" * n, content_type="application/octet-stream")
        elif url.path == "/slow":
            time.sleep(3)
            self.reply(200, "late")
        elif url.path == "/cgi-bin/sendsms":
            with lock:
                captured.append({"method": "GET", "path": url.path, "query": url.query})
            if q.get("username") != "kuser" or q.get("password") != "k p@ss":
                self.reply(403, "Authorization failed for sendsms")
            else:
                self.reply(202, "0: Accepted for delivery")
        elif url.path == "/captured":
            with lock:
                self.reply(200, json.dumps(captured), content_type="application/json")
        else:
            self.reply(404, "not found")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        with lock:
            captured.append({"method": "POST", "path": url.path,
                             "authorization": self.headers.get("Authorization", ""),
                             "content_type": self.headers.get("Content-Type", ""),
                             "form": form})
        if not url.path.endswith("/Messages.json"):
            self.reply(404, "not found")
        elif form.get("To") == "+15550000400":
            self.reply(400, json.dumps({"code": 21211, "message": "The 'To' number is not valid"}),
                       content_type="application/json")
        elif form.get("To") == "+15550000429":
            self.reply(429, json.dumps({"code": 20429, "message": "Too Many Requests"}),
                       content_type="application/json")
        elif form.get("To") == "+15550000500":
            self.reply(500, "oops")
        else:
            self.reply(201, json.dumps({"sid": "SM0123", "status": "queued"}),
                       content_type="application/json")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*a.tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
