"""Fake side services on loopback for the black-box suite (SPEC 5): a small SMTP server of the
suite's own, written on socketserver (Python's smtpd module is gone from 3.12), and an ARS phone
gateway on http.server that checks cashd's signed call requests and posts signed callbacks, as
docs/ars-gateway.md describes them."""

import base64
import email
import email.policy
import hashlib
import hmac
import http.client
import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import threading
import time

WAIT_SECONDS = 30
LINE_BYTES_MAX = 4096
DATA_BYTES_MAX = 1024 * 1024
CALLBACK_PATH = "/cash/v1/verifications/ars/callback"


def wait_until(condition, predicate, timeout, what):
    """Waits on condition (held by the caller) until predicate() is true; AssertionError after
    timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out waiting for %s" % what)
        condition.wait(remaining)


def wait_for_log(server, text, timeout=WAIT_SECONDS):
    """Waits until cashd's log (read on another thread) has a line containing text; the line."""
    def find():
        return [line for line in server.lines if text in line]
    with server.condition:
        wait_until(server.condition, find, timeout, "%r in the log" % text)
        return find()[0]


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and localhost with the openssl command: (cert,
    key) paths, or None when openssl is not installed."""
    cert = os.path.join(directory, "smtp-cert.pem")
    key = os.path.join(directory, "smtp-key.pem")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.CalledProcessError):
        return None
    return cert, key


# ---- SMTP ----

class Mail:
    """One message as the fake SMTP server received it."""

    def __init__(self, envelope_from, recipients, data, tls, auth):
        self.envelope_from = envelope_from
        self.recipients = recipients
        self.data = data          # the bytes after DATA, dot-unstuffed, CRLF line ends
        self.tls = tls            # the session was encrypted (STARTTLS or implicit TLS)
        self.auth = auth          # (user, password) the client authenticated with, or None
        self.message = email.message_from_bytes(data, policy=email.policy.default)

    def text(self):
        return self.message.get_content()


class _SmtpSession:
    """One client, spoken to line by line (RFC 5321, and RFC 3207 STARTTLS, RFC 4954 AUTH)."""

    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.tls = False
        self.reader = None
        self.auth = None
        self.envelope_from = None
        self.recipients = []

    def run(self):
        if self.server.implicit_tls is not None:
            self.sock = self.server.implicit_tls.wrap_socket(self.sock, server_side=True)
            self.tls = True
        self.reader = self.sock.makefile("rb")
        self.send("220 fake.test ESMTP")
        while True:
            line = self.reader.readline(LINE_BYTES_MAX)
            if not line:
                return
            verb, _, argument = line.decode("latin-1").rstrip("\r\n").partition(" ")
            if not self.command(verb.upper(), argument):
                return

    def send(self, line):
        self.sock.sendall(line.encode("latin-1") + b"\r\n")

    def command(self, verb, argument):
        """Answers one command; False ends the session."""
        handler = getattr(self, "do_" + verb, None)
        if handler is None:
            self.send("502 command not implemented")
            return True
        return handler(argument) is not False

    def do_EHLO(self, argument):
        extensions = ["fake.test"]
        if self.server.starttls is not None and not self.tls:
            extensions.append("STARTTLS")
        if self.server.credentials is not None:
            extensions.append("AUTH PLAIN LOGIN")
        extensions.append("8BITMIME")
        for extension in extensions[:-1]:
            self.send("250-" + extension)
        self.send("250 " + extensions[-1])

    def do_HELO(self, argument):
        self.send("250 fake.test")

    def do_STARTTLS(self, argument):
        if self.server.starttls is None or self.tls:
            self.send("502 no STARTTLS here")
            return
        self.send("220 go ahead")
        self.reader.close()
        self.sock = self.server.starttls.wrap_socket(self.sock, server_side=True)
        self.reader = self.sock.makefile("rb")
        self.tls = True
        self.auth = None
        self.envelope_from = None
        self.recipients = []

    def _read_base64_line(self):
        line = self.reader.readline(LINE_BYTES_MAX).decode("latin-1").strip()
        return base64.b64decode(line)

    def do_AUTH(self, argument):
        mechanism, _, initial = argument.partition(" ")
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            if not initial:
                self.send("334 ")
                raw = self._read_base64_line()
            else:
                raw = base64.b64decode(initial)
            _, user, password = raw.split(b"\0", 2)
        elif mechanism == "LOGIN":
            self.send("334 " + base64.b64encode(b"Username:").decode())
            user = self._read_base64_line()
            self.send("334 " + base64.b64encode(b"Password:").decode())
            password = self._read_base64_line()
        else:
            self.send("504 unknown mechanism")
            return
        given = (user.decode(), password.decode())
        if self.server.credentials is None or given != self.server.credentials:
            self.send("535 authentication failed")
            return
        self.auth = given
        self.send("235 authenticated")

    def do_MAIL(self, argument):
        if self.server.credentials is not None and self.auth is None:
            self.send("530 authentication required")
            return
        self.envelope_from = argument.partition(":")[2].strip()
        self.recipients = []
        self.send("250 sender ok")

    def do_RCPT(self, argument):
        if self.server.reject_recipients:
            self.send("550 no such mailbox here")
            return
        self.recipients.append(argument.partition(":")[2].strip())
        self.send("250 recipient ok")

    def do_DATA(self, argument):
        if self.envelope_from is None or not self.recipients:
            self.send("503 sender and recipient first")
            return
        self.send("354 end with <CRLF>.<CRLF>")
        lines = []
        size = 0
        while True:
            line = self.reader.readline(LINE_BYTES_MAX)
            if not line or line == b".\r\n":
                break
            size += len(line)
            if size > DATA_BYTES_MAX:
                return False
            lines.append(line[1:] if line.startswith(b"..") else line)  # RFC 5321 4.5.2
        self.server.data_arrived(self)
        if self.server.reject_data:
            self.send("554 message refused")
            return
        self.server.record(Mail(self.envelope_from, list(self.recipients), b"".join(lines),
                                self.tls, self.auth))
        self.send("250 queued")

    def do_RSET(self, argument):
        self.envelope_from = None
        self.recipients = []
        self.send("250 ok")

    def do_NOOP(self, argument):
        self.send("250 ok")

    def do_QUIT(self, argument):
        self.send("221 bye")
        return False


class SmtpServer:
    """An SMTP server on 127.0.0.1 and a free port. Options: credentials=(user, password)
    requires AUTH; starttls / implicit_tls are ssl.SSLContext objects; reject_recipients and
    reject_data refuse the message; stall (a threading.Event) holds the answer to the end of
    DATA until it is set; host is where it listens (loopback by default)."""

    def __init__(self, credentials=None, starttls=None, implicit_tls=None,
                 reject_recipients=False, reject_data=False, stall=None, host="127.0.0.1"):
        self.credentials = credentials
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.reject_recipients = reject_recipients
        self.reject_data = reject_data
        self.stall = stall
        self.mails = []
        self.stalled = 0
        self.condition = threading.Condition()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    _SmtpSession(outer, self.request).run()
                except (OSError, ValueError, ssl.SSLError):
                    pass  # a client that goes away (cashd's timeout) ends the session

        self.tcp = socketserver.ThreadingTCPServer((host, 0), Handler)
        self.tcp.daemon_threads = True
        self.thread = threading.Thread(target=self.tcp.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.tcp.server_address[1]

    def url(self, scheme="smtp"):
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def data_arrived(self, session):
        if self.stall is None:
            return
        with self.condition:
            self.stalled += 1
            self.condition.notify_all()
        self.stall.wait(WAIT_SECONDS * 4)

    def record(self, mail):
        with self.condition:
            self.mails.append(mail)
            self.condition.notify_all()

    def wait_stalled(self, count=1, timeout=WAIT_SECONDS):
        with self.condition:
            wait_until(self.condition, lambda: self.stalled >= count, timeout, "a stalled DATA")

    def mail_to(self, address, timeout=WAIT_SECONDS):
        """The first message to address (waits for it)."""
        def find():
            return [m for m in self.mails if "<%s>" % address in m.recipients]
        with self.condition:
            wait_until(self.condition, find, timeout, "mail to %s" % address)
            return find()[0]

    def close(self):
        if self.stall is not None:
            self.stall.set()
        self.tcp.shutdown()
        self.tcp.server_close()


def tls_context(cert):
    """A server-side TLS context of (cert, key)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    return context


# ---- ARS phone gateway ----

def gateway_sign(secret, timestamp, body):
    """docs/ars-gateway.md: hex(HMAC-SHA256(secret, timestamp + "." + body))."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class PhoneCall:
    """One call request as the fake gateway received it."""

    def __init__(self, headers, body, signature_ok):
        self.headers = headers
        self.body = body
        self.json = json.loads(body)
        self.signature_ok = signature_ok


class PhoneGateway:
    """A phone gateway on 127.0.0.1 and a free port. It checks the signature of every request
    with secret and answers status (202 by default). answer, when given, is called with each
    PhoneCall after the answer and returns the callback body (a dict) to post, or None."""

    def __init__(self, secret, status=202, answer=None):
        self.secret = secret
        self.status = status
        self.answer = answer
        self.cashd_port = None
        self.calls = []
        self.callbacks = []  # (status, json) of the callbacks posted by answer
        self.condition = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                timestamp = self.headers.get("X-Cashd-Timestamp", "")
                signature = self.headers.get("X-Cashd-Signature", "")
                expected = gateway_sign(outer.secret, timestamp, body)
                call = PhoneCall({k.lower(): v for k, v in self.headers.items()}, body,
                                 hmac.compare_digest(expected, signature))
                reply = json.dumps({"callId": "call-%d" % len(outer.calls)}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                with outer.condition:
                    outer.calls.append(call)
                    outer.condition.notify_all()
                if outer.answer is not None and outer.status < 300:
                    threading.Thread(target=outer._answer, args=(call,), daemon=True).start()

            def log_message(self, format, *args):
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/calls" % self.http.server_address[1]

    def _answer(self, call):
        body = self.answer(call)
        if body is None:
            return
        status, _, answer = self.callback(body)
        with self.condition:
            self.callbacks.append((status, answer))
            self.condition.notify_all()

    def call_for(self, verification_id, timeout=WAIT_SECONDS):
        """The call request of a verification (waits for it)."""
        def find():
            return [c for c in self.calls if c.json.get("verificationId") == verification_id]
        with self.condition:
            wait_until(self.condition, find, timeout, "a call for %s" % verification_id)
            return find()[0]

    def wait_callbacks(self, count, timeout=WAIT_SECONDS):
        with self.condition:
            wait_until(self.condition, lambda: len(self.callbacks) >= count, timeout,
                       "%d callbacks" % count)
            return list(self.callbacks)

    def callback(self, body, timestamp=None, signature=None, secret=None, port=None,
                 headers=None):
        """Posts a callback to cashd, signed with secret (the gateway's by default) unless
        signature is given. body: a dict (sent as JSON) or bytes. Returns (status, headers,
        parsed JSON or None)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
        if signature is None:
            signature = gateway_sign(secret or self.secret, timestamp, raw)
        sent = {"Content-Type": "application/json", "X-Cashd-Timestamp": timestamp,
                "X-Cashd-Signature": signature}
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v is not None}
        return post_raw(port or self.cashd_port, CALLBACK_PATH, raw, sent)

    def close(self):
        self.http.shutdown()
        self.http.server_close()


def post_raw(port, path, body, headers, method="POST"):
    """One request to cashd on its own connection: (status, lower-case headers, JSON or None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        answer = json.loads(data) if data else None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
    finally:
        connection.close()


def free_port():
    """A port nothing listens on (for an unreachable server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- bank gateway (docs/bank-gateway.md) ----

class BankGateway:
    """A firm-banking relay on 127.0.0.1 and a free port, as docs/bank-gateway.md specifies it.

    POST /transfers pays a transfer once per transferId (the Idempotency-Key): a repeated POST
    answers the stored outcome and pays nothing. GET /transfers/{id} answers the outcome, or 404.
    Each POST of a new transfer takes the next behaviour from `plan` (then `default`):
      "succeed"      pay; 200 COMPLETED with a transactionId and transactionDate
      "fail:CODE"    200 FAILED with failureCode CODE (nothing paid)
      "500"          answer 500 without looking at the transfer (nothing paid)
      "timeout"      wait `delay` seconds, then close without an answer (nothing paid)
      "late"         pay, then answer COMPLETED only after `delay` seconds
      "lose"         pay, then close the connection without an answer
      "hold"         pay, then hold the answer until release() (for kill -9 in flight)
      "stall"        hold the request until release() without paying, then close
    `payments` counts payments per transfer; `requests` lists (method, transferId, status) in
    arrival order; `bad_signatures` counts requests whose signature did not verify."""

    def __init__(self, secret, plan=None, default="succeed", delay=3.0):
        self.secret = secret
        self.plan = list(plan or [])
        self.default = default
        self.delay = delay
        self.outcomes = {}   # transferId -> (status, json)
        self.bodies = {}     # transferId -> the first POST's JSON
        self.payments = {}   # transferId -> payments made
        self.requests = []
        self.bad_signatures = 0
        self.condition = threading.Condition()
        self.released = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _signed(self, signed_text):
                timestamp = self.headers.get("X-Cashd-Timestamp", "")
                signature = self.headers.get("X-Cashd-Signature", "")
                ok = hmac.compare_digest(gateway_sign(outer.secret, timestamp, signed_text),
                                         signature)
                if not ok:
                    with outer.condition:
                        outer.bad_signatures += 1
                return ok

            def _answer(self, status, document):
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, method, transfer_id, status):
                with outer.condition:
                    outer.requests.append((method, transfer_id, status))
                    outer.condition.notify_all()

            def do_GET(self):
                transfer_id = self.path.rsplit("/", 1)[-1]
                if not self.path.startswith("/transfers/") or not self._signed(
                        transfer_id.encode()):
                    self._record("GET", transfer_id, 401)
                    return self._answer(401, {"error": "bad signature"})
                with outer.condition:
                    outcome = outer.outcomes.get(transfer_id)
                if outcome is None:
                    self._record("GET", transfer_id, 404)
                    return self._answer(404, {"status": "NOT_FOUND", "transferId": transfer_id})
                self._record("GET", transfer_id, 200)
                self._answer(200, outcome)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                document = json.loads(body)
                transfer_id = document.get("transferId", "")
                if (self.path != "/transfers" or not self._signed(body) or
                        self.headers.get("Idempotency-Key") != transfer_id):
                    self._record("POST", transfer_id, 401)
                    return self._answer(401, {"error": "bad signature or key"})
                with outer.condition:
                    known = outer.outcomes.get(transfer_id)
                    behaviour = None
                    if known is None:
                        behaviour = outer.plan.pop(0) if outer.plan else outer.default
                if known is not None:
                    self._record("POST", transfer_id, 200)
                    return self._answer(200, known)
                self._behave(behaviour, transfer_id, document)

            def _behave(self, behaviour, transfer_id, document):
                if behaviour == "500":
                    self._record("POST", transfer_id, 500)
                    return self._answer(500, {"error": "internal"})
                if behaviour == "stall":
                    self._record("POST", transfer_id, 0)
                    outer.released.wait(60)
                    self.close_connection = True
                    return None
                if behaviour == "timeout":
                    self._record("POST", transfer_id, 0)
                    time.sleep(outer.delay)
                    self.close_connection = True
                    return None
                if behaviour.startswith("fail:"):
                    outcome = {"transferId": transfer_id, "status": "FAILED",
                               "failureCode": behaviour[5:]}
                    outer._settle(transfer_id, document, outcome, paid=False)
                    self._record("POST", transfer_id, 200)
                    return self._answer(200, outcome)
                outcome = outer._pay(transfer_id, document)
                if behaviour == "late":
                    self._record("POST", transfer_id, 200)  # on arrival: the answer comes late
                    time.sleep(outer.delay)
                    try:
                        self._answer(200, outcome)
                    except OSError:
                        pass  # cashd stopped waiting: that is the point
                    return None
                if behaviour == "lose":
                    self._record("POST", transfer_id, 0)
                    self.close_connection = True
                    return None
                if behaviour == "hold":
                    self._record("POST", transfer_id, 0)
                    outer.released.wait(60)
                    self.close_connection = True
                    return None
                self._record("POST", transfer_id, 200)
                self._answer(200, outcome)

            def log_message(self, format, *args):
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def _settle(self, transfer_id, document, outcome, paid):
        with self.condition:
            self.outcomes[transfer_id] = outcome
            self.bodies.setdefault(transfer_id, document)
            if paid:
                self.payments[transfer_id] = self.payments.get(transfer_id, 0) + 1
            self.condition.notify_all()

    def _pay(self, transfer_id, document):
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        outcome = {"transferId": transfer_id, "status": "COMPLETED",
                   "transactionId": "TX%06d" % (len(self.outcomes) + 1),
                   "transactionDate": "%s.%03dZ" % (stamp, int(now * 1000) % 1000)}
        self._settle(transfer_id, document, outcome, paid=True)
        return outcome

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http.server_address[1]

    def release(self):
        self.released.set()

    def wait_requests(self, predicate, what, timeout=WAIT_SECONDS):
        with self.condition:
            wait_until(self.condition, lambda: predicate(self.requests), timeout, what)
            return list(self.requests)

    def requests_for(self, transfer_id):
        with self.condition:
            return [(m, s) for (m, t, s) in self.requests if t == transfer_id]

    def close(self):
        self.released.set()
        self.http.shutdown()
        self.http.server_close()
