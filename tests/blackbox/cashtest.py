"""Harness of the black-box suite: a real cashd on a free port with a fresh database, set up with
cashctl and spoken to over HTTP as a client would (SPEC, docs/API.md).

Environment:
  CASHD_BIN, CASHCTL_BIN   the programs under test
  CASHD_TEST_TMP           where temporary databases and key files go (created if missing)
  CASHD_TEST_DB            "sqlite" (default) or "postgresql"; for postgresql, CASHD_TEST_PG_URL is
                           the URL of a superuser of a server where the suite may CREATE DATABASE
                           (one per server), or CASHD_TEST_PG_URL_FILE names a file holding it
                           (tests/pg/start writes one; CTest passes it, cmake/postgres.cmake)
"""

import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Generous: Debug builds run under AddressSanitizer and the VM may be paused by its host.
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 60
CODE_TIMEOUT_SECONDS = 30
CTL_TIMEOUT_SECONDS = 120

ALNUM = string.ascii_letters + string.digits
ISO_MS_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LISTENING = re.compile(r"cashd listening on (\S+)")
CONSOLE_CODE = re.compile(
    r"verification (\d{32}) code (\d{6}) for (\S+) \(console delivery\)")

WITHDRAWAL_FIELDS = [
    "bankCode", "accountNumber", "holderName", "status", "isProcessing", "confirmedCount",
    "memo", "transactionId", "transactionDate", "accountId", "amount", "fee", "totalAmount",
    "withdrawId", "dateConfirmed", "dateCreated", "dateUpdated",
]
BALANCE_FIELDS = ["accountId", "balance", "point", "autoRecharge", "minimumCash", "rechargeTo",
                  "rechargeTryCount"]
HISTORY_FIELDS = ["historyId", "accountId", "type", "balanceAmount", "pointAmount", "oldBalance",
                  "newBalance", "oldPoint", "newPoint", "memo", "groupId", "rechargeMethod",
                  "serviceMethod", "chargedMethod", "paymentMethod", "dateCreated"]
BANK_FIELDS = ["accountId", "bankCode", "accountNumber", "holderName", "dateCreated",
               "dateUpdated"]
VERIFICATION_FIELDS = ["verificationId", "method", "status", "attemptsLeft", "usesLeft",
                       "dateCreated", "dateExpires", "dateConfirmed"]


# The suite asks for many verifications per member and account; cashd's own (lower) defaults are
# tested by test_abuse.py. A class's server_env that names one of these with None runs with
# cashd's default instead.
SUITE_LIMITS = {
    "CASHD_VERIFICATION_MEMBER_LIMIT": "100000",
    "CASHD_VERIFICATION_ACCOUNT_LIMIT": "1000000",
}


def _find_program(env_name, name):
    path = os.environ.get(env_name)
    if path:
        return path
    for build in ("build", "build-cli", "build-sanitize"):
        candidate = os.path.join(REPO, build, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise unittest.SkipTest("%s is not set and no built %s was found" % (env_name, name))


def cashd_bin():
    return _find_program("CASHD_BIN", "cashd")


def cashctl_bin():
    return _find_program("CASHCTL_BIN", "cashctl")


def test_tmp():
    root = os.environ.get("CASHD_TEST_TMP") or os.path.join(tempfile.gettempdir(), "cashd-test")
    os.makedirs(root, exist_ok=True)
    return root


def new_tmpdir(prefix="cashd-"):
    return tempfile.mkdtemp(prefix=prefix, dir=test_tmp())


def base_env(extra=None):
    """The environment of cashd and cashctl: ours without any CASHD_* setting, then extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASHD_")}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def random_salt(length=32):
    return "".join(secrets.choice(ALNUM) for _ in range(length))


def iso_date(moment=None, offset_minutes=None, milliseconds=True):
    """An ISO 8601 date: UTC with Z, or with a +HH:MM offset (as the official SDK sends)."""
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    spec = "milliseconds" if milliseconds else "seconds"
    if offset_minutes is None:
        text = moment.astimezone(datetime.timezone.utc).isoformat(timespec=spec)
        return text.replace("+00:00", "Z")
    zone = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    return moment.astimezone(zone).isoformat(timespec=spec)


def parse_iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def authorization(api_key, api_secret, method="HMAC-SHA256", date=None, salt=None):
    """The vendor's header, computed here independently of cashd: HMAC(secret, date + salt)."""
    date = date if date is not None else iso_date()
    salt = salt if salt is not None else random_salt()
    digest = hashlib.md5 if method == "HMAC-MD5" else hashlib.sha256
    signature = hmac.new(api_secret.encode(), (date + salt).encode(), digest).hexdigest()
    return "%s apiKey=%s, date=%s, salt=%s, signature=%s" % (method, api_key, date, salt,
                                                             signature)


def strict_json(body):
    """Parses a response body; a duplicated key in an answer is a bug of the server."""
    def pairs_hook(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise AssertionError("duplicated key in a response: %r" % keys)
        return dict(pairs)
    return json.loads(body.decode("utf-8"), object_pairs_hook=pairs_hook)


class Database:
    """A fresh, empty database and its data key file."""

    def __init__(self):
        self.dir = new_tmpdir("db-")
        self.mode = os.environ.get("CASHD_TEST_DB", "sqlite")
        self.key_file = os.path.join(self.dir, "cashd.key")
        if self.mode == "sqlite":
            self.path = os.path.join(self.dir, "cashd.db")
            self.url = "sqlite:" + self.path
        elif self.mode == "postgresql":
            self.path = None
            self.url = self._create_postgresql()
        else:
            raise AssertionError("unknown CASHD_TEST_DB %r (sqlite or postgresql)" % self.mode)

    def _create_postgresql(self):
        self.admin_url = pg_admin_url()
        self.name = "cashd_test_%s" % secrets.token_hex(6)
        psql(self.admin_url, "CREATE DATABASE %s" % self.name)
        parts = urllib.parse.urlsplit(self.admin_url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + self.name))

    def execute(self, sql):
        """Runs one SQL statement on the database as another process would (to look, or to
        corrupt by hand); its rows as lists of text."""
        if self.mode == "postgresql":
            return [line.split("\x1f") for line in psql(self.url, sql).splitlines()]
        import sqlite3
        conn = sqlite3.connect(self.path, timeout=CTL_TIMEOUT_SECONDS)
        try:
            with conn:
                rows = conn.execute(sql).fetchall()
        finally:
            conn.close()
        return [[str(value) for value in row] for row in rows]

    def env(self):
        return {"CASHD_DB": self.url, "CASHD_DATA_KEY_FILE": self.key_file}

    def stored_bytes(self):
        """What the database holds: every byte of the SQLite file and its WAL, or a dump of
        every row of the PostgreSQL database (pg_dump --data-only)."""
        data = b""
        if self.mode == "postgresql":
            return subprocess.run(["pg_dump", "--data-only", "--no-owner", self.url], check=True,
                                  capture_output=True, timeout=CTL_TIMEOUT_SECONDS).stdout
        for suffix in ("", "-wal"):
            if os.path.exists(self.path + suffix):
                with open(self.path + suffix, "rb") as handle:
                    data += handle.read()
        return data


def pg_admin_url():
    """The URL of a PostgreSQL superuser: CASHD_TEST_PG_URL, or the file CASHD_TEST_PG_URL_FILE
    names."""
    url = os.environ.get("CASHD_TEST_PG_URL")
    if url:
        return url
    path = os.environ.get("CASHD_TEST_PG_URL_FILE")
    if not path:
        raise AssertionError("CASHD_TEST_DB=postgresql needs CASHD_TEST_PG_URL or "
                             "CASHD_TEST_PG_URL_FILE")
    with open(path) as handle:
        return handle.readline().strip()


def psql(url, sql):
    """Runs SQL with psql on url; stdout, rows unaligned with fields separated by 0x1f."""
    completed = subprocess.run(["psql", url, "-X", "-v", "ON_ERROR_STOP=1", "-qAt", "-F", "\x1f",
                                "-c", sql], capture_output=True, text=True,
                               timeout=CTL_TIMEOUT_SECONDS)
    if completed.returncode != 0:
        raise AssertionError("psql failed on %r: %s" % (sql, completed.stderr))
    return completed.stdout


class CtlResult:
    def __init__(self, completed):
        self.code = completed.returncode
        self.out = completed.stdout
        self.err = completed.stderr

    @property
    def lines(self):
        return self.out.splitlines()

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "cashctl exit %d\nstdout: %s\nstderr: %s" % (self.code, self.out, self.err)


def run_ctl(db, *args, env=None, cwd=None):
    """Runs cashctl on db (its URL and key file through the environment)."""
    merged = base_env(db.env() if db is not None else None)
    if env:
        merged.update(env)
    completed = subprocess.run([cashctl_bin()] + [str(a) for a in args], env=merged, cwd=cwd,
                               capture_output=True, text=True, timeout=CTL_TIMEOUT_SECONDS)
    return CtlResult(completed)


def ctl_ok(db, *args):
    result = run_ctl(db, *args)
    if result.code != 0:
        raise AssertionError("cashctl %s failed: %r" % (" ".join(map(str, args)), result))
    return result


class Customer:
    """An account, one member and its API key, made with cashctl."""

    def __init__(self, server, account_id, member_id, api_key, api_secret, email):
        self.server = server
        self.account_id = account_id
        self.member_id = member_id
        self.api_key = api_key
        self.api_secret = api_secret
        self.email = email

    def client(self, **kwargs):
        return Client(self.server, self.api_key, self.api_secret, **kwargs)


def random_email():
    return "m%s@example.com" % secrets.token_hex(6)


def make_customer(server, balance=100000, bank=True, verified="personal", role="OWNER",
                  member_status="ACTIVE", account_status="ACTIVE", scopes=None,
                  bank_code="004", bank_number="123-456-7890", holder="홍길동",
                  auto_recharge=None):
    """Creates account + member + API key (+ credit) (+ bank account) with cashctl."""
    db = server.db
    args = ["account", "create", "--verified", verified, "--status", account_status]
    account_id = ctl_ok(db, *args).out.strip()
    if auto_recharge is not None:
        ctl_ok(db, "account", "set", account_id, "--auto-recharge", auto_recharge)
    return add_member(server, account_id, balance=balance, bank=bank, role=role,
                      member_status=member_status, scopes=scopes, bank_code=bank_code,
                      bank_number=bank_number, holder=holder)


def add_member(server, account_id, balance=0, bank=False, role="OWNER", member_status="ACTIVE",
               scopes=None, bank_code="004", bank_number="123-456-7890", holder="홍길동"):
    db = server.db
    email = random_email()
    member_id = ctl_ok(db, "member", "add", account_id, "--email", email, "--phone",
                       "010-1234-5678", "--role", role, "--status", member_status).out.strip()
    key_args = ["apikey", "create", member_id]
    if scopes is not None:
        key_args += ["--scopes", scopes]
    api_key, api_secret = ctl_ok(db, *key_args).out.split()
    if balance:
        ctl_ok(db, "balance", "credit", account_id, balance, "--memo", "test recharge")
    if bank:
        ctl_ok(db, "bank", "set", account_id, "--bank-code", bank_code, "--number", bank_number,
               "--holder", holder)
    return Customer(server, account_id, member_id, api_key, api_secret, email)


class Server:
    """A cashd process on 127.0.0.1 and a free port, on its own fresh database."""

    def __init__(self, env=None, db=None):
        self.extra_env = dict(env or {})
        self.db = db or Database()
        self.process = None
        self.port = None
        self.lines = []
        self.codes = {}
        self.condition = threading.Condition()
        self.reader = None
        self.initialised = db is not None

    def start(self):
        if not self.initialised:
            ctl_ok(self.db, "init")
            self.initialised = True
        env = base_env(self.db.env())
        env["CASHD_MAIL"] = "console"
        env.update({k: str(v) for k, v in SUITE_LIMITS.items() if k not in self.extra_env})
        env.update({k: str(v) for k, v in self.extra_env.items() if v is not None})
        self.lines = []
        self.port = None
        self.process = subprocess.Popen([cashd_bin(), "--listen", "127.0.0.1:0"], env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        with self.condition:
            while self.port is None:
                if self.process.poll() is not None and not self.reader.is_alive():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.condition.wait(min(remaining, 0.5))
        if self.port is None:
            self.process.kill()
            self.process.wait()
            raise AssertionError("cashd did not start:\n" + self.log_text())
        return self

    def _read(self):
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.condition:
                self.lines.append(line)
                listening = LISTENING.search(line)
                if listening and self.port is None:
                    self.port = int(listening.group(1).rsplit(":", 1)[1])
                code = CONSOLE_CODE.search(line)
                if code:
                    self.codes[code.group(1)] = code.group(2)
                self.condition.notify_all()
        with self.condition:
            self.condition.notify_all()

    def code_for(self, verification_id, timeout=CODE_TIMEOUT_SECONDS):
        """The code cashd wrote to its log for a verification (console delivery)."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while verification_id not in self.codes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no console code for %s in the log:\n%s"
                                         % (verification_id, "\n".join(self.lines[-20:])))
                self.condition.wait(remaining)
            return self.codes[verification_id]

    def log_text(self):
        with self.condition:
            return "\n".join(self.lines)

    def stop(self):
        """SIGTERM; returns cashd's exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = "timeout"
        self.reader.join(timeout=STOP_TIMEOUT_SECONDS)
        self.process.stdout.close()
        self.process = None
        return code

    def restart(self):
        code = self.stop()
        if code != 0:
            raise AssertionError("cashd exited with %r:\n%s" % (code, self.log_text()))
        return self.start()

    def ctl(self, *args):
        return run_ctl(self.db, *args)

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS)


class Reply:
    """One answer: status, headers (lower-case names), the parsed JSON and the raw body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = strict_json(body) if body else None
        except ValueError as error:
            raise AssertionError("HTTP %d answered a body that is not JSON (%s): %r"
                                 % (status, error, body[:300]))

    def __iter__(self):
        return iter((self.status, self.headers, self.json))

    @property
    def error_code(self):
        return self.json.get("errorCode") if isinstance(self.json, dict) else None

    @property
    def keys(self):
        return list(self.json.keys())

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.body[:600].decode("utf-8", "replace"))


class Client:
    """Signed requests on one keep-alive connection. Remembers every body it received."""

    IDLE_RECONNECT_SECONDS = 20

    def __init__(self, server, api_key=None, api_secret=None, method="HMAC-SHA256"):
        self.server = server
        self.api_key = api_key
        self.api_secret = api_secret
        self.method = method
        self.conn = None
        self.last_used = 0.0
        self.bodies = []

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def sign(self, **kwargs):
        return authorization(self.api_key, self.api_secret,
                             kwargs.pop("hmac_method", self.method), **kwargs)

    def raw(self, method, path, body=None, headers=None):
        """Sends exactly what it is given; returns a Reply."""
        if self.conn is None or time.monotonic() - self.last_used > self.IDLE_RECONNECT_SECONDS:
            self.close()
            self.conn = self.server.connection()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            response = self.conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.close()
            raise
        self.last_used = time.monotonic()
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        self.bodies.append(data)
        if response.will_close:
            self.close()
        return reply

    def request(self, method, path, body=None, headers=None, auth=True, content_type=None,
                **sign_args):
        """A signed request. body: dict/list (JSON), str or bytes (sent as they are)."""
        all_headers = {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if body is not None:
            all_headers["Content-Type"] = content_type or "application/json"
        elif content_type is not None:
            all_headers["Content-Type"] = content_type
        if auth:
            all_headers["Authorization"] = self.sign(**sign_args)
        all_headers.update(headers or {})
        all_headers = {k: v for k, v in all_headers.items() if v is not None}
        return self.raw(method, path, body, all_headers)

    def get(self, path, params=None, **kwargs):
        if params:
            path += "?" + urllib.parse.urlencode(params, safe="[]")
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    # The API, one call each
    def balance(self):
        reply = self.get("/cash/v1/balance")
        assert reply.status == 200, reply
        return reply.json["balance"]

    def withdraw(self, amount, verification_id=None):
        headers = {"X-Verification-Id": verification_id} if verification_id else None
        return self.post("/cash/v1/withdraw", {"amount": amount}, headers=headers)

    def history(self, **params):
        params.setdefault("limit", 100)
        reply = self.get("/cash/v1/balance/history", params)
        assert reply.status == 200, reply
        return reply.json["data"]

    def withdrawals(self, **params):
        params.setdefault("limit", 100)
        reply = self.get("/cash/v1/withdraw", params)
        assert reply.status == 200, reply
        return reply.json["data"]

    def create_verification(self, method="EMAIL_OTP"):
        return self.post("/cash/v1/verifications", {"method": method})

    def confirm(self, verification_id, code):
        return self.post("/cash/v1/verifications/%s/confirm" % verification_id, {"code": code})


def verify(client, server=None):
    """An EMAIL_OTP verification created and confirmed with the code from cashd's log; its id."""
    server = server or client.server
    created = client.create_verification()
    assert created.status == 200, created
    verification_id = created.json["verificationId"]
    confirmed = client.confirm(verification_id, server.code_for(verification_id))
    assert confirmed.status == 200, confirmed
    assert confirmed.json["status"] == "CONFIRMED", confirmed
    return verification_id


def snapshot(client):
    """What an error path must leave as it was: balance, ledger and withdrawals."""
    balance = client.get("/cash/v1/balance")
    assert balance.status == 200, balance
    history = [entry["historyId"] for entry in client.history()]
    withdrawals = [(w["withdrawId"], w["status"]) for w in client.withdrawals()]
    return (balance.json["balance"], balance.json["point"], history, withdrawals)


def fee_of(total, rate_bp=500, fixed=500):
    """SPEC 3: ceil(total * rate / 10000) + fixed, in integers."""
    return -(-total * rate_bp // 10000) + fixed


class ServerTestCase(unittest.TestCase):
    """One cashd per test class (setUpClass); fresh customers per test. At the end of the
    server's life it must exit 0 on SIGTERM and `cashctl ledger verify` must pass."""

    server_env = {}
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(env=cls.server_env).start()

    @classmethod
    def tearDownClass(cls):
        server = cls.server
        if server is None:
            return
        code = server.stop()
        ledger = server.ctl("ledger", "verify")
        if code != 0:
            raise AssertionError("cashd exited with %r on SIGTERM; log:\n%s"
                                 % (code, "\n".join(server.lines[-40:])))
        if ledger.code != 0:
            raise AssertionError("cashctl ledger verify failed: %r" % ledger)
        if os.environ.get("CASHD_TEST_KEEP") is None:
            shutil.rmtree(server.db.dir, ignore_errors=True)

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.close()

    # helpers bound to the class's server
    def customer(self, **kwargs):
        return make_customer(self.server, **kwargs)

    def client_of(self, customer, **kwargs):
        client = customer.client(**kwargs)
        self.clients.append(client)
        return client

    def new_client(self, **kwargs):
        """A customer (see make_customer) and a client for it."""
        customer = self.customer(**kwargs)
        return customer, self.client_of(customer)

    def anonymous(self):
        client = Client(self.server)
        self.clients.append(client)
        return client

    def verify(self, client):
        return verify(client, self.server)

    def run_concurrently(self, clients, request):
        """Runs request(index, client) in one thread per client, all released at once; the
        replies in the order of clients."""
        barrier = threading.Barrier(len(clients))
        replies = [None] * len(clients)
        errors = []

        def worker(index):
            try:
                barrier.wait(timeout=120)
                replies[index] = request(index, clients[index])
            except Exception as error:  # reported below, in the test's thread
                errors.append(error)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        self.assertEqual(errors, [])
        self.assertTrue(all(reply is not None for reply in replies))
        return replies

    def assert_error(self, reply, status, error_code, mentions=None):
        self.assertEqual(reply.status, status, reply)
        self.assertIsInstance(reply.json, dict, reply)
        self.assertEqual(reply.json.get("errorCode"), error_code, reply)
        self.assertIsInstance(reply.json.get("errorMessage"), str, reply)
        self.assertTrue(reply.json["errorMessage"], reply)
        self.assertTrue(reply.headers.get("content-type", "").startswith("application/json"),
                        reply.headers)
        if mentions is not None:
            self.assertIn(mentions, reply.json["errorMessage"], reply)

    def assert_withdrawal_shape(self, withdrawal, customer=None):
        self.assertEqual(list(withdrawal.keys()), WITHDRAWAL_FIELDS)
        self.assertRegex(withdrawal["withdrawId"], r"^\d{32}$")
        self.assertRegex(withdrawal["accountId"], r"^\d{14}$")
        if customer is not None:
            self.assertEqual(withdrawal["accountId"], customer.account_id)
        self.assertRegex(withdrawal["accountNumber"], r"^\*{6}\d{4}$")
        for field in ("dateCreated", "dateUpdated"):
            self.assertRegex(withdrawal[field], ISO_MS_UTC)
        self.assertRegex(withdrawal["dateConfirmed"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$")
        for field in ("amount", "fee", "totalAmount", "confirmedCount"):
            self.assertIs(type(withdrawal[field]), int, field)
        self.assertIs(type(withdrawal["isProcessing"]), bool)
        self.assertEqual(withdrawal["amount"] + withdrawal["fee"], withdrawal["totalAmount"])


# ---- fault and shutdown tests (tests/fault, test_shutdown.py, test_catalogue.py) ----

def kill_server(server):
    """kill -9 of cashd: no clean shutdown at all. The Server can start() again on its database
    (its console codes are kept). Returns the exit status (-9)."""
    process = server.process
    if process is None:
        return None
    process.kill()
    code = process.wait(timeout=STOP_TIMEOUT_SECONDS)
    server.reader.join(timeout=STOP_TIMEOUT_SECONDS)
    process.stdout.close()
    server.process = None
    return code


def ctl_json(db, *args):
    """cashctl --json ARGS on db, parsed; raises if cashctl fails."""
    return ctl_ok(db, "--json", *args).json()


def history_all(client):
    """Every ledger entry of the client's account, newest first (all pages)."""
    entries = []
    while True:
        reply = client.get("/cash/v1/balance/history", {"offset": len(entries), "limit": 100})
        assert reply.status == 200, reply
        entries += reply.json["data"]
        if len(reply.json["data"]) < 100:
            return entries


# What a refused request must leave exactly as it was, read straight from the tables: every
# column of every row of these (those a schema does not have yet are skipped). Not
# used_signatures: every authenticated request, even a refused one, spends its signature there
# (SPEC 1).
STORED_TABLES = ["accounts", "members", "api_keys", "bank_accounts", "verifications",
                 "withdrawals", "balance_history", "member_guards", "totp_enrolments",
                 "idempotency_keys"]


def stored_rows(db):
    """{table: [row, ...]} of STORED_TABLES, each row as text, ordered by its first column (the
    key): equal results mean the rows that hold money, keys and second factors are byte for byte
    the same."""
    rows = {}
    if db.mode == "sqlite":
        import sqlite3
        connection = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(db.path), uri=True,
                                     timeout=CTL_TIMEOUT_SECONDS)
        try:
            present = {name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in STORED_TABLES:
                if table in present:
                    cursor = connection.execute("SELECT * FROM %s ORDER BY 1" % table)
                    rows[table] = [repr(row) for row in cursor.fetchall()]
        finally:
            connection.close()
        return rows
    for table in STORED_TABLES:
        completed = subprocess.run(
            ["psql", db.url, "-v", "ON_ERROR_STOP=1", "-XAt", "-c",
             "SELECT t::text FROM %s t ORDER BY 1" % table],
            capture_output=True, text=True, timeout=CTL_TIMEOUT_SECONDS)
        if completed.returncode != 0 and "does not exist" in completed.stderr:
            continue
        if completed.returncode != 0:
            raise AssertionError("psql failed on %s: %s" % (table, completed.stderr))
        rows[table] = completed.stdout.splitlines()
    return rows
