"""Real components for the end-to-end tests: an SMTP server, an SMS gateway and a browser.

    from e2e_harness import SmtpServer, Kannel, Browser, CallbackServer, message_text, find_links

    with SmtpServer() as smtp:                       # aiosmtpd -> Maildir, 127.0.0.1:<free port>
        ...  # HABANERO_SMTP_URL=smtp.url, HABANERO_SMTP_FROM=...
        msg = smtp.wait_for_message("alice@example.com", timeout=30)
        link = find_links(message_text(msg))[0]
        smtp.stop(); ...; smtp.start()               # down and up again on the same port

    with Kannel() as kannel:                         # bearerbox + smsbox + fakesmsc
        url = kannel.sendsms_url()                   # http://127.0.0.1:<port>/cgi-bin/sendsms
        text = kannel.wait_for_sms("+15551234567", timeout=30)

    with Browser(artifacts="build/e2e-artifacts/my_test") as b:   # Debian's Chromium
        b.goto(url); b.fill("input[name=email]", "alice@example.com"); b.click("button")
        b.screenshot("after-submit")

Every component binds 127.0.0.1 only, on a free port, with its files in a temporary
directory that stop()/close() removes (keep=True keeps it for a post-mortem). Only the
standard library is needed here, so any python3 >= 3.11 can import this module; the SMTP
server itself runs under Debian's /usr/bin/python3, which has python3-aiosmtpd. The packages
and playwright-core come from scripts/setup-e2e.sh (the ctest fixture e2e_setup).

Environment: HABANERO_E2E_CACHE (where setup-e2e.sh put node_modules; default
~/.cache/habanero/e2e), HABANERO_E2E_ARTIFACTS (default directory for screenshots),
HABANERO_CHROMIUM (default /usr/bin/chromium).
"""
import email
import email.policy
import email.utils
import html
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"
BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"


def cache_dir():
    default = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                           "habanero", "e2e")
    return os.environ.get("HABANERO_E2E_CACHE") or default


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def stop_process(proc, sig=signal.SIGTERM, grace=10.0):
    """Signals proc (ours), waits up to grace seconds, then kills it."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no %s)" % path


# ---- mail ------------------------------------------------------------------------------------

def message_text(msg):
    """The text of an email.message.EmailMessage: its text/plain part, else its HTML as text."""
    part = msg.get_body(preferencelist=("plain",))
    if part is not None:
        return part.get_content()
    part = msg.get_body(preferencelist=("html",))
    if part is not None:
        return html.unescape(re.sub(r"<[^>]+>", " ", part.get_content()))
    return ""


def message_html(msg):
    """The text/html part of a message, or None."""
    part = msg.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else None


def find_links(text):
    """http(s) URLs in text, in order (trailing punctuation and quoting removed)."""
    return [u.rstrip(".,;:!?)]'\"") for u in re.findall(r"https?://[^\s<>\"']+", text)]


class SmtpServer:
    """aiosmtpd on 127.0.0.1 delivering every message into a Maildir.

    tls: None (plain SMTP), "starttls" (offered; required with require_starttls=True) or
    "implicit" (SMTPS: TLS from the first byte) -- both with a self-signed certificate for
    127.0.0.1/localhost, whose PEM is at .cafile. auth=(user, password) requires AUTH (PLAIN
    or LOGIN) before MAIL; with STARTTLS, AUTH is offered only after STARTTLS.
    .url is what Habanero's HABANERO_SMTP_URL should be (smtp://[user:pass@]127.0.0.1:PORT, or
    smtps:// for implicit TLS). Messages survive stop()/start(); the port stays the same.
    """

    def __init__(self, tls=None, require_starttls=False, auth=None, port=None, keep=False,
                 start=True):
        if tls not in (None, "starttls", "implicit"):
            raise ValueError("tls must be None, 'starttls' or 'implicit'")
        self.tls = tls
        self.require_starttls = require_starttls
        self.auth = auth
        self.keep = keep
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="habanero-e2e-smtp-")
        self.maildir = os.path.join(self.dir, "Maildir")
        self.log_path = os.path.join(self.dir, "smtp.log")
        self.cafile = None
        self.keyfile = None
        self.proc = None
        if tls:
            self.cafile, self.keyfile = self_signed_certificate(self.dir)
        for attempt in range(1 if port or not start else 3):
            try:
                if start:
                    self.start()
                break
            except RuntimeError:
                if attempt == 2 or port:
                    self.close()
                    raise
                self.port = free_port()  # taken before aiosmtpd bound it: try another

    @property
    def url(self):
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        cred = ""
        if self.auth:
            cred = "%s:%s@" % (urllib.parse.quote(self.auth[0], safe=""),
                               urllib.parse.quote(self.auth[1], safe=""))
        return "%s://%s%s:%d" % (scheme, cred, self.host, self.port)

    def start(self):
        """Starts the server (again) on the same port; returns when it accepts connections."""
        if self.running():
            return
        cmd = [SYSTEM_PYTHON, os.path.join(HERE, "smtp_server.py"), "--host", self.host,
               "--port", str(self.port), "--maildir", self.maildir]
        if self.tls:
            cmd += ["--tls", self.tls, "--cert", self.cafile, "--key", self.keyfile]
            if self.require_starttls:
                cmd.append("--require-starttls")
        if self.auth:
            cmd += ["--auth", "%s:%s" % self.auth]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        line = self.proc.stdout.readline().decode().strip()  # "READY <port>" or EOF
        if not line.startswith("READY"):
            self.proc.wait()
            raise RuntimeError("aiosmtpd did not start on port %d:\n%s" % (
                self.port, tail(self.log_path)))

    def stop(self):
        """Stops the server; connections to its port are refused until start()."""
        stop_process(self.proc)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        self.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def log(self):
        return tail(self.log_path, 200)

    def messages(self):
        """Every message delivered so far, oldest first, as email.message.EmailMessage."""
        found = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                path = os.path.join(d, name)
                try:
                    st = os.stat(path)
                    with open(path, "rb") as f:
                        data = f.read()
                except FileNotFoundError:
                    continue
                found.append((st.st_mtime_ns, name, data))
        found.sort()
        return [email.message_from_bytes(data, policy=email.policy.default)
                for _, _, data in found]

    def messages_to(self, to):
        """Messages whose envelope recipients (X-RcptTo) or To/Cc headers name `to`."""
        want = to.lower()
        out = []
        for m in self.messages():
            rcpts = ",".join(str(v) for k in ("X-RcptTo", "To", "Cc") for v in m.get_all(k, []))
            addrs = {a.lower() for _, a in email.utils.getaddresses([rcpts])}
            if want in addrs:
                out.append(m)
        return out

    def wait_for_message(self, to, timeout=30.0, skip=0):
        """The (skip+1)-th message to `to`, waiting up to timeout seconds for it to arrive."""
        def found():
            ms = self.messages_to(to)
            return ms[skip] if len(ms) > skip else None
        try:
            return wait_until(found, timeout, "message #%d to %s" % (skip + 1, to), 0.1)
        except TimeoutError as e:
            raise TimeoutError("%s; %d message(s) in the Maildir; smtp log:\n%s" % (
                e, len(self.messages()), self.log())) from None


def self_signed_certificate(directory, name="localhost"):
    """Writes a self-signed EC certificate for localhost and 127.0.0.1; returns (cert, key)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


# ---- SMS -------------------------------------------------------------------------------------

_GOT = re.compile(r"Got message \d+: <(.*)>\s*$")
# A message line as bearerbox's fake SMSC writes it: sender, receiver, type, payload.
_START = re.compile(r"^(\S+) ([+0-9][0-9]*) (text|data|ucs-2|ucs2|udh) (.*)$", re.S)


class Sms:
    """One SMS as it reached the fake SMS centre (concatenated parts joined)."""

    def __init__(self, sender, to, text, raw):
        self.sender, self.to, self.text, self.raw = sender, to, text, raw

    def __repr__(self):
        return "Sms(sender=%r, to=%r, text=%r)" % (self.sender, self.to, self.text)


def _decode_payload(kind, payload):
    if kind == "text":
        return payload.encode("utf-8", "surrogateescape")
    return urllib.parse.unquote_to_bytes(payload.replace("+", " "))


def _bytes_to_text(kind, data):
    if kind in ("ucs-2", "ucs2"):
        return data.decode("utf-16-be", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_fakesmsc(log_text):
    """The SMS in fakesmsc's log, in order of arrival.

    bearerbox sends each MT message to fakesmsc as one line "SENDER RECEIVER TYPE PAYLOAD",
    which fakesmsc logs as "Got message N: <LINE>". TYPE is "text" (plain UTF-8; a newline in
    the text ends the line, and fakesmsc logs the rest as further "Got message" lines, which
    are joined back here), "data" (URL-encoded bytes), "ucs-2" (URL-encoded UTF-16BE) or
    "udh URL-ENCODED-UDH TYPE PAYLOAD" for a part of a concatenated message (joined here by
    its reference number once every part is in).
    """
    records = []  # [sender, to, kind, bytes-or-None, udh, raw]
    for line in log_text.splitlines():
        m = _GOT.search(line)
        if not m:
            continue
        body = m.group(1)
        s = _START.match(body)
        if not s:
            if records and records[-1][2] == "text":
                records[-1][3] += b"\n" + body.encode("utf-8", "surrogateescape")
                records[-1][5] += "\n" + body
            continue
        sender, to, kind, rest = s.groups()
        udh = b""
        if kind == "udh":
            parts = rest.split(" ", 2)
            if len(parts) < 3:
                continue
            udh = urllib.parse.unquote_to_bytes(parts[0])
            kind, rest = parts[1], parts[2]
            data = urllib.parse.unquote_to_bytes(rest.replace("+", " "))
        else:
            data = _decode_payload(kind, rest)
        records.append([sender, to, kind, data, udh, body])

    out = []
    pending = {}  # (sender, to, ref) -> {seq: record}
    for sender, to, kind, data, udh, raw in records:
        concat = _concat_info(udh)
        if concat is None:
            out.append(Sms(sender, to, _bytes_to_text(kind, data), raw))
            continue
        ref, total, seq = concat
        key = (sender, to, ref)
        parts = pending.setdefault(key, {})
        parts[seq] = (kind, data, raw)
        if len(parts) == total:
            del pending[key]
            ordered = [parts[i] for i in sorted(parts)]
            text = "".join(_bytes_to_text(k, d) for k, d, _ in ordered)
            out.append(Sms(sender, to, text, "\n".join(r for _, _, r in ordered)))
    return out


def _concat_info(udh):
    """(reference, total, sequence) from a concatenation UDH, else None."""
    if len(udh) < 2:
        return None
    i, end = 1, 1 + udh[0]
    while i + 1 < len(udh) and i < end:
        iei, length = udh[i], udh[i + 1]
        value = udh[i + 2:i + 2 + length]
        if iei == 0x00 and length == 3:
            return value[0], value[1], value[2]
        if iei == 0x08 and length == 4:
            return (value[0] << 8) | value[1], value[2], value[3]
        i += 2 + length
    return None


class Kannel:
    """A real Kannel SMS gateway on loopback: bearerbox, smsbox, and fakesmsc as the SMS centre.

    bearerbox has one SMSC connection of type `fake`; fakesmsc connects to it and logs every
    message bearerbox delivers. smsbox serves the sendsms HTTP interface for one sendsms-user
    (username/password). Long messages are split into up to 10 concatenated parts; the
    harness joins them again. stop()/start() take the whole gateway down and up on the same
    ports; what fakesmsc received before stays readable.
    """

    def __init__(self, username="habanero", password=None, global_sender="Habanero",
                 keep=False, start=True):
        self.username = username
        self.password = password or "sms-" + os.urandom(6).hex()
        self.global_sender = global_sender
        self.keep = keep
        self.host = "127.0.0.1"
        self.dir = tempfile.mkdtemp(prefix="habanero-e2e-kannel-")
        self.admin_password = "admin-" + os.urandom(6).hex()
        self.config = os.path.join(self.dir, "kannel.conf")
        self.procs = {}
        self.generation = 0
        for attempt in range(3):  # a free port can be taken before bearerbox binds it
            self.admin_port, self.smsbox_port, self.smsc_port, self.sendsms_port = (
                _distinct_free_ports(4))
            self._write_config()
            if not start:
                break
            try:
                self.start()
                break
            except RuntimeError:
                if attempt == 2:
                    self.close()
                    raise

    def sendsms_url(self, credentials=False):
        """http://127.0.0.1:PORT/cgi-bin/sendsms; with credentials=True, with
        ?username=...&password=... appended (Kannel takes them as query parameters)."""
        base = "http://%s:%d/cgi-bin/sendsms" % (self.host, self.sendsms_port)
        if credentials:
            base += "?" + urllib.parse.urlencode(
                {"username": self.username, "password": self.password})
        return base

    def _write_config(self):
        d = self.dir
        text = f"""# written by tests/e2e/e2e_harness.py
group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = "{self.admin_password}"
status-password = "{self.admin_password}"
admin-allow-ip = "127.0.0.1"
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "{d}/bearerbox.log"
log-level = 1
access-log = "{d}/access.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
our-host = 127.0.0.1
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
global-sender = "{self.global_sender}"
log-file = "{d}/smsbox.log"
log-level = 1

group = sendsms-user
username = "{self.username}"
password = "{self.password}"
max-messages = 10
concatenation = true
"""
        with open(self.config, "w") as f:
            f.write(text)

    def _spawn(self, name, cmd, stdin=subprocess.DEVNULL):
        log = open(os.path.join(self.dir, "%s-%d.out" % (name, self.generation)), "ab")
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.dir)
        log.close()
        self.procs[name] = proc
        return proc

    def start(self, timeout=30.0):
        """Starts bearerbox, fakesmsc and smsbox; returns once the fake SMSC is online and
        smsbox is connected and serving sendsms."""
        if self.running():
            return
        self.generation += 1
        try:
            self._spawn("bearerbox", [BEARERBOX, "-v", "1", self.config])
            wait_until(lambda: self._alive() and port_open(self.smsc_port)
                       and port_open(self.smsbox_port), timeout, "bearerbox ports")
            # fakesmsc in interactive mode (no MO messages to send) reads stdin: keep it open.
            self._spawn("fakesmsc", [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.smsc_port),
                                     "-i", "0"], stdin=subprocess.PIPE)
            self._spawn("smsbox", [SMSBOX, "-v", "1", self.config])
            wait_until(lambda: self._alive() and port_open(self.sendsms_port), timeout,
                       "smsbox sendsms port")
            wait_until(lambda: self._alive() and self._online(), timeout,
                       "fake SMSC online and smsbox connected", 0.1)
        except Exception as e:
            self.stop()
            raise RuntimeError("kannel did not start: %s\n%s" % (e, self.logs())) from None

    def _alive(self):
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError("%s exited with %s" % (name, proc.returncode))
        return True

    def status(self):
        """bearerbox's status.txt (empty if it does not answer)."""
        url = "http://127.0.0.1:%d/status.txt?password=%s" % (
            self.admin_port, urllib.parse.quote(self.admin_password))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode("utf-8", "replace")
        except (OSError, urllib.error.URLError):
            return ""

    def _online(self):
        s = self.status()
        return (re.search(r"FAKE:%d \(online" % self.smsc_port, s) is not None
                and re.search(r"smsbox:.*on-line", s) is not None)

    def stop(self):
        """Stops the gateway: sendsms is refused until start()."""
        for name, sig in (("smsbox", signal.SIGTERM), ("fakesmsc", signal.SIGINT),
                          ("bearerbox", signal.SIGTERM)):
            proc = self.procs.pop(name, None)
            if proc is not None:
                if proc.stdin:
                    try:
                        proc.stdin.close()
                    except OSError:
                        pass
                stop_process(proc, sig)

    def running(self):
        return bool(self.procs) and all(p.poll() is None for p in self.procs.values())

    def close(self):
        self.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def logs(self, n=30):
        out = []
        for name in ("bearerbox.log", "smsbox.log", "bearerbox-%d.out" % self.generation,
                     "smsbox-%d.out" % self.generation, "fakesmsc-%d.out" % self.generation):
            out.append("---- %s ----\n%s" % (name, tail(os.path.join(self.dir, name), n)))
        return "\n".join(out)

    def messages(self):
        """Every SMS fakesmsc received so far (over all start()s), oldest first, as Sms."""
        out = []
        for g in range(1, self.generation + 1):
            path = os.path.join(self.dir, "fakesmsc-%d.out" % g)
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "surrogateescape")
            except FileNotFoundError:
                continue
            out.extend(parse_fakesmsc(text))
        return out

    def messages_to(self, to):
        """SMS whose receiver is exactly `to` (as Kannel got it: "+15551234567")."""
        return [m for m in self.messages() if m.to == to]

    def wait_for_sms(self, to, timeout=30.0, skip=0):
        """The text of the (skip+1)-th SMS to `to`, waiting up to timeout seconds."""
        def found():
            ms = self.messages_to(to)
            return ms[skip] if len(ms) > skip else None
        try:
            wait_until(found, timeout, "SMS #%d to %s" % (skip + 1, to), 0.1)
        except TimeoutError as e:
            got = ", ".join(repr(m) for m in self.messages()) or "none"
            raise TimeoutError("%s; received: %s\n%s" % (e, got, self.logs())) from None
        time.sleep(0.3)  # a multi-line text arrives as several log lines: let them all land
        return self.messages_to(to)[skip].text

    def send(self, to, text, sender=None, **params):
        """Sends through the sendsms interface as any client would; returns (status, body)."""
        q = {"username": self.username, "password": self.password, "to": to, "text": text}
        if sender:
            q["from"] = sender
        q.update(params)
        url = self.sendsms_url() + "?" + urllib.parse.urlencode(q)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")


def _distinct_free_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


# ---- a client's redirect_uri -------------------------------------------------------------------

class CallbackServer:
    """A real HTTP endpoint on 127.0.0.1 for a client's redirect_uri (http://127.0.0.1:PORT/callback).

    Records every request (method, full URL, headers, body) and answers 200 with a small page
    showing the query, so a browser test ends on a real page it can screenshot.
    wait_for_request() returns the next recorded request as a dict with "url", "query" (dict of
    first values), "method", "headers" and "body".
    """

    def __init__(self, path="/callback"):
        import http.server

        self.requests = []
        self._cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
                url = "http://%s:%d%s" % (outer.host, outer.port, self.path)
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query,
                                                    keep_blank_values=True))
                with outer._cond:
                    outer.requests.append({"method": self.command, "url": url, "query": query,
                                           "headers": dict(self.headers), "body": body})
                    outer._cond.notify_all()
                page = ("<!doctype html><meta charset=utf-8><title>Client callback</title>"
                        "<h1>Client callback</h1><pre id=query>%s</pre>" % html.escape(
                            json.dumps(query, indent=2)))
                data = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _record

            def log_message(self, *args):
                pass

        self.host = "127.0.0.1"
        self._server = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        self.port = self._server.server_address[1]
        self.url = "http://%s:%d%s" % (self.host, self.port, path)
        self._seen = 0
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for_request(self, timeout=30.0):
        """The next request not yet returned by this method."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) > self._seen, timeout):
                raise TimeoutError("no request to %s within %.1fs" % (self.url, timeout))
            self._seen += 1
            return self.requests[self._seen - 1]

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- browser ---------------------------------------------------------------------------------

class BrowserError(RuntimeError):
    pass


class Browser:
    """Debian's Chromium, headless, driven by playwright-core through tests/e2e/browser.mjs.

    One fresh profile (user-data-dir) per Browser, one page. Only loopback hosts are reached:
    every other request is aborted (and listed by blocked()), unless it matches a prefix given
    to stub(), which answers it locally with a small page and records it (use this for a
    client's redirect_uri such as https://rp.example/callback). Screenshots go to
    `artifacts` (default $HABANERO_E2E_ARTIFACTS/<name>, else a temporary directory);
    with auto_screenshots=True every goto()/click()/submit() saves NN-<what>.png.
    Selectors are Playwright selectors ("button[type=submit]", "text=Continue", "#email").
    """

    def __init__(self, artifacts=None, name="browser", auto_screenshots=False, timeout=30.0,
                 executable=None, stubs=()):
        if artifacts is None and os.environ.get("HABANERO_E2E_ARTIFACTS"):
            artifacts = os.path.join(os.environ["HABANERO_E2E_ARTIFACTS"], name)
        self.artifacts = artifacts  # None: the first screenshot() makes a temporary directory
        self.auto_screenshots = auto_screenshots
        self.timeout = timeout
        self.shots = 0
        self._id = 0
        self._lines = queue.Queue()
        self._stderr = []
        modules = os.path.join(cache_dir(), "node", "node_modules")
        if not os.path.isdir(os.path.join(modules, "playwright-core")):
            raise BrowserError("no playwright-core in %s: run scripts/setup-e2e.sh" % modules)
        env = dict(os.environ, HABANERO_E2E_CACHE=cache_dir())
        cmd = ["node", os.path.join(HERE, "browser.mjs"), "--serve"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, text=True,
                                     encoding="utf-8", errors="replace", bufsize=1)
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines),
                                          daemon=True),
                         threading.Thread(target=self._pump_err, daemon=True)]
        for t in self._threads:
            t.start()
        try:
            self._call("launch", executable=executable or os.environ.get(
                "HABANERO_CHROMIUM", "/usr/bin/chromium"), timeout_ms=int(timeout * 1000),
                stubs=list(stubs), timeout=90)
        except Exception:
            self.close()
            raise

    @staticmethod
    def _pump(stream, q):
        for line in stream:
            q.put(line)
        q.put(None)

    def _pump_err(self):
        for line in self.proc.stderr:
            self._stderr.append(line)

    def _call(self, cmd, timeout=None, **args):
        self._id += 1
        request = {"id": self._id, "cmd": cmd, "args": args}
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise BrowserError("browser.mjs is gone:\n" + "".join(self._stderr[-40:]))
        deadline = time.monotonic() + (timeout or self.timeout + 15)
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise BrowserError("%s: no answer from browser.mjs in time" % cmd)
            if line is None:
                raise BrowserError("browser.mjs exited:\n" + "".join(self._stderr[-40:]))
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if reply.get("id") != self._id:
                continue
            if not reply.get("ok"):
                raise BrowserError("%s %s: %s" % (cmd, json.dumps(args), reply.get("error")))
            return reply.get("result")

    def goto(self, url, screenshot=None):
        """Opens url and waits for its load event; returns the final URL."""
        result = self._call("goto", url=url)
        self._after(screenshot, "goto")
        return result

    def click(self, selector, screenshot=None):
        """Clicks; if that navigates, waits for the new page's load event. Returns the URL."""
        result = self._call("click", selector=selector)
        self._after(screenshot, "click")
        return result

    def submit(self, selector="form", screenshot=None):
        """Submits a form as its first submit button would; returns the URL after."""
        result = self._call("submit", selector=selector)
        self._after(screenshot, "submit")
        return result

    def _after(self, screenshot, what):
        if screenshot:
            self.screenshot(screenshot)
        elif self.auto_screenshots:
            self.screenshot(what)

    def fill(self, selector, value):
        self._call("fill", selector=selector, value=value)

    def press(self, selector, key):
        self._call("press", selector=selector, key=key)

    def url(self):
        return self._call("url")

    def title(self):
        return self._call("title")

    def content(self):
        """The page's HTML as it is now."""
        return self._call("content")

    def text(self, selector="body"):
        """The visible text (innerText) of the first element matching selector."""
        return self._call("text", selector=selector)

    def count(self, selector):
        """How many elements match selector."""
        return self._call("count", selector=selector)

    def wait_for_url(self, prefix, timeout=None):
        """Waits until the page's URL starts with prefix; returns it."""
        return self._call("waitForUrl", prefix=prefix,
                          timeout_ms=int((timeout or self.timeout) * 1000))

    def wait_for_selector(self, selector, timeout=None):
        self._call("waitForSelector", selector=selector,
                   timeout_ms=int((timeout or self.timeout) * 1000))

    def screenshot(self, name):
        """Saves a full-page PNG as <artifacts>/NN-<name>.png; returns its path."""
        if self.artifacts is None:
            self.artifacts = tempfile.mkdtemp(prefix="habanero-e2e-shots-")
        os.makedirs(self.artifacts, exist_ok=True)
        self.shots += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"
        path = os.path.join(self.artifacts, "%02d-%s.png" % (self.shots, safe))
        self._call("screenshot", path=path)
        return path

    def stub(self, prefix, body=None):
        """Answers requests whose URL starts with prefix with a local 200 page (no network)."""
        self._call("stub", prefix=prefix, body=body)

    def stubbed(self):
        """URLs of requests answered by stubs, in order."""
        return self._call("stubbed")

    def navigations(self):
        """Every URL the page navigated to, redirect hops included, in order."""
        return self._call("navigations")

    def blocked(self):
        """URLs of requests aborted because their host was not loopback."""
        return self._call("blocked")

    def cookies(self):
        """The profile's cookies: a list of {name, value, domain, path, httpOnly, ...}."""
        return self._call("cookies")

    def close(self):
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self._call("close", timeout=20)
        except BrowserError:
            pass
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        stop_process(self.proc, grace=10)
        for t in self._threads:
            t.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
