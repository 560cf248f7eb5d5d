"""Request rules of every endpoint (SPEC 8; docs/API.md "Request rules"), and how cashd starts."""

import base64
import os
import shutil
import socket
import subprocess
import time
import unittest

from cashtest import (Database, ServerTestCase, base_env, cashd_bin, ctl_ok, snapshot)

WITHDRAW = "/cash/v1/withdraw"
BODY_BYTES_MAX = 16 * 1024


def nested(depth, leaf="1"):
    """A JSON object nested depth levels deep, counting the outer object as level 1."""
    return '{"a": ' * depth + leaf + "}" * depth


class RoutingTest(ServerTestCase):
    def test_unknown_paths_are_not_found_even_without_authentication(self):
        anonymous = self.anonymous()
        _, client = self.new_client()
        for path in ("/", "/cash", "/cash/v1", "/cash/v1/nope", "/cash/v2/withdraw",
                     "/cash/v1/balance/nope", "/cash/v1/withdraw/%s/cancel/now" % ("1" * 32),
                     "/cash/v1/bank/accounts/1", "/CASH/V1/BALANCE"):
            with self.subTest(path=path):
                self.assert_error(anonymous.raw("GET", path), 404, "NotFound")
                self.assert_error(client.get(path), 404, "NotFound")

    def test_method_not_allowed_with_allow(self):
        anonymous = self.anonymous()
        cases = [
            ("DELETE", WITHDRAW, {"GET", "POST"}),
            ("PUT", "/cash/v1/balance", {"GET"}),
            ("POST", "/cash/v1/balance/history", {"GET"}),
            ("POST", "/cash/v1/withdraw/quote", {"GET"}),
            ("GET", "/cash/v1/withdraw/%s/cancel" % ("1" * 32), {"POST"}),
            ("DELETE", "/cash/v1/withdraw/%s" % ("1" * 32), {"GET"}),
            ("PATCH", "/cash/v1/bank/accounts", {"GET", "POST", "DELETE"}),
            ("GET", "/cash/v1/verifications", {"POST"}),
            ("DELETE", "/cash/v1/verifications/%s" % ("1" * 32), {"GET"}),
            ("GET", "/cash/v1/verifications/%s/confirm" % ("1" * 32), {"POST"}),
        ]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                reply = anonymous.raw(method, path)
                self.assert_error(reply, 405, "MethodNotAllowed")
                allow = {m.strip() for m in reply.headers.get("allow", "").split(",")}
                self.assertTrue(allowed <= allow, "Allow: %r" % reply.headers.get("allow"))
                self.assertNotIn(method, allow)

    def test_json_answers(self):
        _, client = self.new_client()
        for reply in (client.get("/cash/v1/balance"), client.get("/nope"),
                      self.anonymous().raw("GET", "/cash/v1/balance")):
            content_type = reply.headers["content-type"].lower().replace(" ", "")
            self.assertEqual(content_type, "application/json;charset=utf-8")

    def test_keep_alive(self):
        _, client = self.new_client()
        client.get("/cash/v1/balance")
        sock = client.conn.sock
        for _ in range(10):
            self.assertEqual(client.get("/cash/v1/balance").status, 200)
        self.assertIs(client.conn.sock, sock, "the connection is kept alive")

    def test_too_long_url(self):
        _, client = self.new_client()
        reply = client.get("/cash/v1/withdraw?status[ne]=" + "A" * 4000)
        self.assertIn(reply.status, (400, 404, 414), reply)
        self.assertIsInstance(reply.error_code, str)


class BodyTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.customer_, self.client = self.new_client(balance=100000)
        self.verification_id = self.verify(self.client)
        self.before = snapshot(self.client)

    def tearDown(self):
        try:
            self.assertEqual(snapshot(self.client), self.before, "an error changed nothing")
            state = self.client.get("/cash/v1/verifications/%s" % self.verification_id).json
            self.assertEqual(state["usesLeft"], 1, "an error spends no verification")
        finally:
            super().tearDown()

    def post(self, body, content_type="application/json", auth=True):
        headers = {"Content-Type": content_type} if content_type else {}
        if auth:
            headers["Authorization"] = self.client.sign()
        return self.client.raw("POST", WITHDRAW, body, headers)

    def test_payload_too_large(self):
        body = b'{"amount": 20000' + b" " * BODY_BYTES_MAX + b"}"
        self.assert_error(self.post(body), 413, "PayloadTooLarge")
        self.assert_error(self.post(body, auth=False), 413, "PayloadTooLarge")
        self.assert_error(self.post(b"x" * (BODY_BYTES_MAX + 1)), 413, "PayloadTooLarge")
        self.assert_error(self.post(b"x" * (10 * BODY_BYTES_MAX), content_type="text/plain"),
                          413, "PayloadTooLarge")

    def test_a_body_of_exactly_16_kib_is_read(self):
        head = b'{"amount": 999'
        body = head + b" " * (BODY_BYTES_MAX - len(head) - 1) + b"}"
        self.assertEqual(len(body), BODY_BYTES_MAX)
        self.assert_error(self.post(body), 400, "ValidationError", mentions="amount")

    def test_unsupported_media_type(self):
        body = b'{"amount": 20000}'
        for content_type in ("text/plain", "application/jsonx", "text/json",
                             "application/x-www-form-urlencoded", "multipart/form-data", None):
            with self.subTest(content_type=content_type):
                self.assert_error(self.post(body, content_type), 415, "UnsupportedMediaType")

    def test_json_content_type_with_charset_is_accepted(self):
        reply = self.post(b'{"amount": 999}', "application/json; charset=utf-8")
        self.assert_error(reply, 400, "ValidationError", mentions="amount")

    def test_invalid_json(self):
        bodies = {
            "not json": b"amount=20000",
            "truncated": b'{"amount": 20000',
            "trailing garbage": b'{"amount": 20000} x',
            "two objects": b'{"amount": 20000}{"amount": 20000}',
            "invalid utf-8": b'{"amount": 20000, "memo": "\xff\xfe"}',
            "invalid utf-8 in a key": b'{"amo\xc3\x28unt": 20000}',
            "overlong utf-8": b'{"amount": 20000, "m": "\xc0\xaf"}',
            "duplicated key": b'{"amount": 20000, "amount": 20000}',
            "duplicated key, other values": b'{"amount": 1, "amount": 20000}',
            "duplicated nested key": b'{"amount": 20000, "x": {"a": 1, "a": 2}}',
            "array": b"[20000]",
            "string": b'"20000"',
            "number": b"20000",
            "null": b"null",
            "empty": b"",
            "too deep": nested(9).encode(),
            "far too deep": nested(200).encode(),
            "too deep in arrays": ('{"amount": ' + "[" * 8 + "1" + "]" * 8 + "}").encode(),
        }
        for name, body in bodies.items():
            with self.subTest(name=name):
                self.assert_error(self.post(body), 400, "InvalidJSON")

    def test_depth_eight_is_json(self):
        self.assert_error(self.post(nested(8).encode()), 400, "ValidationError")

    def test_authentication_comes_before_the_body(self):
        self.assert_error(self.post(b"not json", auth=False), 401, "Unauthorized")
        self.assert_error(self.post(b"not json", "text/plain", auth=False), 401, "Unauthorized")

    def test_permissions_come_before_the_body(self):
        _, developer = self.new_client(role="DEVELOPER")
        reply = developer.raw("POST", WITHDRAW, b"not json",
                              {"Content-Type": "text/plain", "Authorization": developer.sign()})
        self.assert_error(reply, 403, "MissingMemberPermission")

    def test_content_type_comes_before_the_json(self):
        self.assert_error(self.post(b"not json", "text/plain"), 415, "UnsupportedMediaType")


class SlowClientTest(ServerTestCase):
    """SPEC 8: slow or idle clients are cut off (HTTP_CONNECTION_TIMEOUT_SECONDS, 30 s), and
    the server keeps serving others meanwhile."""

    CUT_OFF_WITHIN_SECONDS = 120

    def open_socket(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        sock.settimeout(self.CUT_OFF_WITHIN_SECONDS)
        return sock

    def wait_closed(self, sock, started):
        data = b""
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            self.fail("the connection was still open after %d s" % self.CUT_OFF_WITHIN_SECONDS)
        finally:
            sock.close()
        return time.monotonic() - started, data

    def test_idle_and_slow_connections_are_closed(self):
        _, client = self.new_client(balance=100)
        slow = self.open_socket()
        slow.sendall(b"GET /cash/v1/balance HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        idle = self.open_socket()
        started = time.monotonic()
        self.assertEqual(client.balance(), 100, "others are served while a client is slow")
        closed_after, _ = self.wait_closed(slow, started)
        self.assertGreater(closed_after, 5, "not cut off at once")
        self.assertEqual(client.get("/cash/v1/balance").status, 200)
        self.wait_closed(idle, started)


class StartupTest(unittest.TestCase):
    """cashd refuses to start without a usable data key (SPEC 7) and documents its settings."""

    def setUp(self):
        self.db = Database()
        ctl_ok(self.db, "init")

    def tearDown(self):
        shutil.rmtree(self.db.dir, ignore_errors=True)

    def run_cashd(self, *args, env=None):
        merged = base_env(self.db.env())
        merged.update(env or {})
        try:
            return subprocess.run([cashd_bin()] + list(args), env=merged, capture_output=True,
                                  text=True, timeout=60)
        except subprocess.TimeoutExpired as timeout:
            raise AssertionError("cashd started (or hung) when it should have refused: %s"
                                 % timeout.stderr)

    def assert_refuses(self, *args, mentions=None, env=None):
        result = self.run_cashd("--listen", "127.0.0.1:0", *args, env=env)
        self.assertNotEqual(result.returncode, 0, result)
        output = result.stderr + result.stdout
        self.assertNotIn("cashd listening on", output)
        self.assertTrue(output.strip(), "a message says why")
        if mentions is not None:
            self.assertIn(mentions, output)
        return output

    def test_missing_key_file(self):
        os.remove(self.db.key_file)
        self.assert_refuses(mentions=self.db.key_file)

    def test_world_readable_key_file(self):
        os.chmod(self.db.key_file, 0o644)
        self.assert_refuses(mentions=self.db.key_file)

    def test_group_readable_key_file(self):
        os.chmod(self.db.key_file, 0o640)
        self.assert_refuses()

    def test_short_key(self):
        with open(self.db.key_file, "w") as handle:
            handle.write(base64.b64encode(os.urandom(16)).decode() + "\n")
        os.chmod(self.db.key_file, 0o600)
        self.assert_refuses(mentions=self.db.key_file)

    def test_key_that_is_not_base64(self):
        with open(self.db.key_file, "w") as handle:
            handle.write("this is not a key at all, not even base64!!\n")
        self.assert_refuses()

    def test_bad_settings(self):
        self.assert_refuses("--no-such-flag", "1")
        self.assert_refuses(env={"CASHD_FEE_RATE_BP": "abc"})
        self.assert_refuses(env={"CASHD_MIN_WITHDRAW": "-5"})
        self.assert_refuses(env={"CASHD_DB": "nosuchscheme:x"})

    def test_help_lists_the_settings(self):
        result = self.run_cashd("--help")
        self.assertEqual(result.returncode, 0, result)
        for name in ("CASHD_DB", "CASHD_LISTEN", "CASHD_DATA_KEY_FILE", "CASHD_MAIL",
                     "CASHD_MAIL_FROM", "CASHD_ARS_URL", "CASHD_ARS_SECRET", "CASHD_BANK_URL",
                     "CASHD_BANK_SECRET", "CASHD_FEE_RATE_BP", "CASHD_FEE_FIXED",
                     "CASHD_MIN_WITHDRAW", "CASHD_MAX_WITHDRAW", "CASHD_DAILY_LIMIT",
                     "CASHD_DUAL_CONFIRM_AT", "CASHD_VERIFICATION_MAX_USES"):
            self.assertIn(name, result.stdout)


if __name__ == "__main__":
    unittest.main()
