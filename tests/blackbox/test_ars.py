"""ARS phone verification (SPEC 5; docs/ars-gateway.md): a fake phone gateway on loopback
(fakes.py) receives cashd's signed call request and posts the signed callback. Confirmed,
wrong digits, failed, unanswered, forged (bad signature, replayed, unknown id), late; the gateway
refusing or unreachable; every header and field of the callback malformed."""

import json
import subprocess
import time
import unittest

import fakes
from cashtest import (ISO_MS_UTC, VERIFICATION_FIELDS, Server, ServerTestCase, base_env,
                      cashd_bin, parse_iso, snapshot)

SECRET = "gateway-secret-for-tests-0123456789"
VERIFICATIONS = "/cash/v1/verifications"
ARS_FIELDS = VERIFICATION_FIELDS + ["callStatus"]


class ArsTestCase(ServerTestCase):
    """A fake phone gateway for the class, and cashd calling it."""

    gateway_status = 202
    extra_env = {}

    @classmethod
    def setUpClass(cls):
        cls.gateway = fakes.PhoneGateway(SECRET, status=cls.gateway_status)
        cls.server_env = dict({"CASHD_ARS_URL": cls.gateway.url, "CASHD_ARS_SECRET": SECRET},
                              **cls.extra_env)
        try:
            super().setUpClass()
        except Exception:
            cls.gateway.close()
            raise
        cls.gateway.cashd_port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.gateway.close()

    def ars(self, client):
        """A new ARS verification: (its answer, the gateway's call request)."""
        reply = client.create_verification("ARS")
        self.assertEqual(reply.status, 200, reply)
        return reply.json, self.gateway.call_for(reply.json["verificationId"])

    def state(self, client, verification_id):
        reply = client.get("%s/%s" % (VERIFICATIONS, verification_id))
        self.assertEqual(reply.status, 200, reply)
        return reply.json

    def report(self, verification_id, result, digits=None, **kwargs):
        body = {"verificationId": verification_id, "result": result}
        if digits is not None:
            body["digits"] = digits
        return self.gateway.callback(body, **kwargs)

    def assert_callback_error(self, answer, status, error_code, mentions=None):
        self.assertEqual(answer[0], status, answer)
        self.assertEqual(answer[2]["errorCode"], error_code, answer)
        if mentions is not None:
            self.assertIn(mentions, answer[2]["errorMessage"], answer)


class ArsCallTest(ArsTestCase):
    def test_the_call_request_is_signed_and_complete(self):
        customer, client = self.new_client()
        before = time.time()
        created, call = self.ars(client)
        self.assertEqual(list(created.keys()), ARS_FIELDS + ["arsCode"])
        self.assertRegex(created["arsCode"], r"^\d{2}$")
        self.assertEqual((created["method"], created["status"], created["callStatus"]),
                         ("ARS", "PENDING", "REQUESTED"))
        self.assertTrue(call.signature_ok, "HMAC-SHA256 over timestamp.body with the secret")
        self.assertEqual(call.headers["content-type"], "application/json")
        self.assertRegex(call.headers["x-cashd-timestamp"], r"^\d{10}$")
        self.assertLessEqual(abs(int(call.headers["x-cashd-timestamp"]) - before), 60)
        self.assertRegex(call.headers["x-cashd-signature"], r"^[0-9a-f]{64}$")
        self.assertEqual(list(call.json.keys()),
                         ["verificationId", "phone", "arsCode", "dateExpires"])
        self.assertEqual(call.json["verificationId"], created["verificationId"])
        self.assertEqual(call.json["phone"], "010-1234-5678")
        self.assertEqual(call.json["arsCode"], created["arsCode"])
        self.assertEqual(call.json["dateExpires"], created["dateExpires"])
        self.assertRegex(call.json["dateExpires"], ISO_MS_UTC)
        state = self.state(client, created["verificationId"])
        self.assertEqual(list(state.keys()), ARS_FIELDS, "GET does not show the arsCode")
        self.assertEqual(state["callStatus"], "REQUESTED")
        self.assertNotIn("arsCode %s" % created["arsCode"], self.server.log_text())

    def test_a_confirmed_call_authorises_a_withdrawal(self):
        _, client = self.new_client(balance=50000)
        created, call = self.ars(client)
        verification_id = created["verificationId"]
        self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")
        status, _, answer = self.report(verification_id, "ANSWERED", created["arsCode"])
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer, {"verificationId": verification_id, "status": "CONFIRMED",
                                  "callStatus": "ANSWERED"})
        state = self.state(client, verification_id)
        self.assertEqual((state["status"], state["callStatus"]), ("CONFIRMED", "ANSWERED"))
        self.assertRegex(state["dateConfirmed"], ISO_MS_UTC)
        withdrawal = client.withdraw(20000)
        self.assertEqual(withdrawal.status, 200, withdrawal)
        self.assertEqual(client.balance(), 30000)

    def test_wrong_digits_fail_the_verification(self):
        _, client = self.new_client(balance=50000)
        created, _ = self.ars(client)
        wrong = "%02d" % ((int(created["arsCode"]) + 1) % 100)
        status, _, answer = self.report(created["verificationId"], "ANSWERED", wrong)
        self.assertEqual(status, 200, answer)
        self.assertEqual((answer["status"], answer["callStatus"]), ("FAILED", "WRONG_DIGITS"))
        state = self.state(client, created["verificationId"])
        self.assertEqual((state["status"], state["callStatus"], state["attemptsLeft"]),
                         ("FAILED", "WRONG_DIGITS", 4))
        before = snapshot(client)
        self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")
        self.assertEqual(snapshot(client), before)

    def test_a_failed_and_an_unanswered_call(self):
        _, client = self.new_client()
        for result in ("FAILED", "NO_ANSWER"):
            with self.subTest(result=result):
                created, _ = self.ars(client)
                status, _, answer = self.report(created["verificationId"], result)
                self.assertEqual(status, 200, answer)
                self.assertEqual((answer["status"], answer["callStatus"]), ("FAILED", result))
                state = self.state(client, created["verificationId"])
                self.assertEqual((state["status"], state["callStatus"]), ("FAILED", result))
                self.assertEqual(state["attemptsLeft"], 5, "no digits were typed")
                self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")

    def test_a_decided_call_is_not_decided_again(self):
        _, client = self.new_client()
        created, _ = self.ars(client)
        verification_id = created["verificationId"]
        self.assertEqual(self.report(verification_id, "ANSWERED", created["arsCode"])[0], 200)
        # Signed again with another timestamp: the same bytes in the same second are a replay.
        for result, digits in (("FAILED", None), ("ANSWERED", created["arsCode"])):
            answer = self.report(verification_id, result, digits, timestamp=int(time.time()) - 7)
            self.assert_callback_error(answer, 409, "InvalidStatus", "CONFIRMED")
        self.assertEqual(self.state(client, verification_id)["status"], "CONFIRMED")

    def test_an_ars_verification_is_not_confirmed_with_a_code(self):
        _, client = self.new_client()
        created, _ = self.ars(client)
        reply = client.confirm(created["verificationId"], "%06d" % int(created["arsCode"]))
        self.assert_error(reply, 409, "InvalidStatus", mentions="phone call")
        self.assertEqual(self.state(client, created["verificationId"])["status"], "PENDING")

    def test_the_callback_takes_no_api_key(self):
        customer, client = self.new_client()
        created, _ = self.ars(client)
        body = {"verificationId": created["verificationId"], "result": "ANSWERED",
                "digits": created["arsCode"]}
        # An API key's signature is no gateway signature.
        reply = client.post(fakes.CALLBACK_PATH, body)
        self.assert_error(reply, 401, "Unauthorized", mentions="X-Cashd-Signature")
        self.assert_error(client.get(fakes.CALLBACK_PATH), 405, "MethodNotAllowed")
        self.assertEqual(self.state(client, created["verificationId"])["status"], "PENDING")

    def test_an_auto_answering_gateway(self):
        """What a real gateway does: it calls, the member types the code, it reports."""
        _, client = self.new_client(balance=50000)
        self.gateway.answer = lambda call: {"verificationId": call.json["verificationId"],
                                            "result": "ANSWERED", "digits": call.json["arsCode"],
                                            "callId": "provider-call-1"}
        try:
            reply = client.create_verification("ARS")
            self.assertEqual(reply.status, 200, reply)
            verification_id = reply.json["verificationId"]
            deadline = time.monotonic() + fakes.WAIT_SECONDS
            while self.state(client, verification_id)["status"] == "PENDING":
                self.assertLess(time.monotonic(), deadline, "no callback arrived")
                time.sleep(0.1)  # polling, as a client would (GET /verifications/{id})
        finally:
            self.gateway.answer = None
        self.assertEqual(self.state(client, verification_id)["callStatus"], "ANSWERED")
        self.assertEqual(client.withdraw(20000).status, 200)


class ArsForgeryTest(ArsTestCase):
    def pending(self):
        customer, client = self.new_client()
        created, _ = self.ars(client)
        return client, created

    def assert_still_pending(self, client, created):
        state = self.state(client, created["verificationId"])
        self.assertEqual((state["status"], state["callStatus"], state["attemptsLeft"]),
                         ("PENDING", "REQUESTED", 5))

    def test_a_bad_signature(self):
        client, created = self.pending()
        verification_id = created["verificationId"]
        self.assert_callback_error(
            self.report(verification_id, "ANSWERED", created["arsCode"],
                        secret="another-secret-of-enough-length"),
            403, "SignatureDoesNotMatch")
        # A signature of another body: the body is what is signed.
        timestamp = str(int(time.time()))
        signed = json.dumps({"verificationId": verification_id, "result": "FAILED"}).encode()
        sent = json.dumps({"verificationId": verification_id, "result": "ANSWERED",
                           "digits": created["arsCode"]}).encode()
        self.assert_callback_error(
            self.gateway.callback(sent, timestamp=timestamp,
                                  signature=fakes.gateway_sign(SECRET, timestamp, signed)),
            403, "SignatureDoesNotMatch")
        # A signature of another timestamp.
        self.assert_callback_error(
            self.gateway.callback(sent, timestamp=timestamp,
                                  signature=fakes.gateway_sign(SECRET, int(timestamp) - 1, sent)),
            403, "SignatureDoesNotMatch")
        self.assert_still_pending(client, created)
        self.assertEqual(self.report(verification_id, "ANSWERED", created["arsCode"])[0], 200)

    def test_a_replayed_callback(self):
        client, created = self.pending()
        body = json.dumps({"verificationId": created["verificationId"], "result": "NO_ANSWER"})
        timestamp = str(int(time.time()))
        signature = fakes.gateway_sign(SECRET, timestamp, body.encode())
        first = self.gateway.callback(body.encode(), timestamp=timestamp, signature=signature)
        self.assertEqual(first[0], 200, first)
        replay = self.gateway.callback(body.encode(), timestamp=timestamp, signature=signature)
        self.assert_callback_error(replay, 403, "DuplicatedSignature")
        # Also on a second cashd on the same database: replays are remembered there.
        other = Server(env=self.server_env, db=self.server.db).start()
        try:
            again = self.gateway.callback(body.encode(), timestamp=timestamp,
                                          signature=signature, port=other.port)
            self.assert_callback_error(again, 403, "DuplicatedSignature")
        finally:
            self.assertEqual(other.stop(), 0)

    def test_a_replay_of_a_refused_callback_is_refused_too(self):
        client, created = self.pending()
        body = json.dumps({"verificationId": created["verificationId"], "result": "ANSWERED"})
        timestamp = str(int(time.time()))
        signature = fakes.gateway_sign(SECRET, timestamp, body.encode())
        first = self.gateway.callback(body.encode(), timestamp=timestamp, signature=signature)
        self.assert_callback_error(first, 400, "ValidationError", "digits")
        second = self.gateway.callback(body.encode(), timestamp=timestamp, signature=signature)
        self.assert_callback_error(second, 403, "DuplicatedSignature")
        self.assert_still_pending(client, created)

    def test_unknown_ids(self):
        _, client = self.new_client()
        self.assert_callback_error(self.report("1" * 32, "ANSWERED", "12"), 404, "NotFound")
        email = client.create_verification().json["verificationId"]
        code = self.server.code_for(email)
        self.assert_callback_error(self.report(email, "ANSWERED", code[:2]), 404, "NotFound")
        self.assertEqual(self.state(client, email)["status"], "PENDING")

    def test_timestamps_out_of_the_window(self):
        client, created = self.pending()
        now = int(time.time())
        for timestamp in (now - 400, now + 400, 0, 999999999999):
            with self.subTest(timestamp=timestamp):
                self.assert_callback_error(
                    self.report(created["verificationId"], "FAILED", timestamp=timestamp),
                    403, "RequestTimeTooSkewed", "allowed skew is 5 minutes")
        self.assert_still_pending(client, created)
        reply = self.report(created["verificationId"], "NO_ANSWER", timestamp=now - 200)
        self.assertEqual(reply[0], 200, reply)

    def test_missing_headers(self):
        client, created = self.pending()
        for header in ("X-Cashd-Timestamp", "X-Cashd-Signature"):
            with self.subTest(header=header):
                self.assert_callback_error(
                    self.report(created["verificationId"], "FAILED", headers={header: None}),
                    401, "Unauthorized", header)
        self.assert_still_pending(client, created)

    def test_malformed_headers(self):
        client, created = self.pending()
        body = {"verificationId": created["verificationId"], "result": "FAILED"}
        good = fakes.gateway_sign(SECRET, int(time.time()), json.dumps(body).encode())
        for timestamp in ("", "abc", "-5", "+5", "1e9", "17000000 00", "1700000000.5",
                          "1234567890123", "0x6553f100"):
            with self.subTest(timestamp=timestamp):
                self.assert_callback_error(
                    self.gateway.callback(body, timestamp=timestamp, signature=good),
                    400, "ValidationError", "X-Cashd-Timestamp")
        for signature in ("", good.upper(), good[:-1], good + "0", "g" * 64, good[:32],
                          "sha256=" + good):
            with self.subTest(signature=signature):
                self.assert_callback_error(self.gateway.callback(body, signature=signature),
                                           400, "ValidationError", "X-Cashd-Signature")
        self.assert_still_pending(client, created)

    def test_malformed_bodies(self):
        client, created = self.pending()
        verification_id = created["verificationId"]
        cases = [
            ({"verificationId": verification_id, "result": "FAILED", "extra": 1}, "extra"),
            ({"result": "FAILED"}, "verificationId"),
            ({"verificationId": 17, "result": "FAILED"}, "verificationId"),
            ({"verificationId": verification_id[:-1], "result": "FAILED"}, "verificationId"),
            ({"verificationId": verification_id + "0", "result": "FAILED"}, "verificationId"),
            ({"verificationId": "x" * 32, "result": "FAILED"}, "verificationId"),
            ({"verificationId": verification_id}, "result"),
            ({"verificationId": verification_id, "result": "answered"}, "result"),
            ({"verificationId": verification_id, "result": "BUSY"}, "result"),
            ({"verificationId": verification_id, "result": "WRONG_DIGITS"}, "result"),
            ({"verificationId": verification_id, "result": "REQUESTED"}, "result"),
            ({"verificationId": verification_id, "result": 1}, "result"),
            ({"verificationId": verification_id, "result": None}, "result"),
            ({"verificationId": verification_id, "result": "ANSWERED"}, "digits"),
            ({"verificationId": verification_id, "result": "FAILED", "digits": "12"}, "digits"),
            ({"verificationId": verification_id, "result": "ANSWERED", "digits": 12}, "digits"),
            ({"verificationId": verification_id, "result": "ANSWERED", "digits": "1a"},
             "digits"),
            ({"verificationId": verification_id, "result": "ANSWERED", "digits": "1" * 17},
             "digits"),
            ({"verificationId": verification_id, "result": "FAILED", "callId": 7}, "callId"),
            ({"verificationId": verification_id, "result": "FAILED", "callId": "c" * 129},
             "callId"),
        ]
        for body, mentions in cases:
            with self.subTest(body=body):
                self.assert_callback_error(self.gateway.callback(body), 400, "ValidationError",
                                           mentions)
        for raw, error_code in ((b"not json", "InvalidJSON"), (b"[]", "InvalidJSON"),
                                (b'{"verificationId": "1", "verificationId": "2"}',
                                 "InvalidJSON")):
            with self.subTest(raw=raw):
                self.assert_callback_error(self.gateway.callback(raw), 400, error_code)
        self.assert_callback_error(
            self.gateway.callback({"verificationId": verification_id, "result": "FAILED"},
                                  headers={"Content-Type": "text/plain"}),
            415, "UnsupportedMediaType")
        large = json.dumps({"verificationId": verification_id, "result": "FAILED",
                            "callId": "c" * (17 * 1024)}).encode()
        self.assert_callback_error(self.gateway.callback(large), 413, "PayloadTooLarge")
        self.assert_still_pending(client, created)
        # A callback with the longest digits and callId allowed is taken.
        reply = self.gateway.callback({"verificationId": verification_id, "result": "ANSWERED",
                                       "digits": "1" * 16, "callId": "c" * 128})
        self.assertEqual(reply[0], 200, reply)
        self.assertEqual(reply[2]["callStatus"], "WRONG_DIGITS")


class ArsLateTest(ArsTestCase):
    extra_env = {"CASHD_VERIFICATION_WINDOW_SECONDS": "2"}

    def test_a_late_callback(self):
        _, client = self.new_client(balance=50000)
        created, _ = self.ars(client)
        self.assertEqual(parse_iso(created["dateExpires"]) - parse_iso(created["dateCreated"]),
                         parse_iso("2000-01-01T00:00:02Z") - parse_iso("2000-01-01T00:00:00Z"))
        time.sleep(2.5)
        answer = self.report(created["verificationId"], "ANSWERED", created["arsCode"])
        self.assert_callback_error(answer, 400, "VerificationExpired")
        state = self.state(client, created["verificationId"])
        self.assertEqual((state["status"], state["callStatus"]), ("EXPIRED", "REQUESTED"))
        self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")


class ArsGatewayRefusesTest(ArsTestCase):
    gateway_status = 500

    def test_a_refused_call_is_a_clear_error_and_a_failed_verification(self):
        _, client = self.new_client()
        reply = client.create_verification("ARS")
        self.assert_error(reply, 503, "ArsCallFailed", mentions="HTTP 500")
        call = self.gateway.calls[-1]
        self.assertTrue(reply.json["errorMessage"].startswith(
            "verification %s: " % call.json["verificationId"]), reply)
        self.assertTrue(call.signature_ok)
        state = self.state(client, call.json["verificationId"])
        self.assertEqual((state["status"], state["callStatus"]), ("FAILED", "FAILED"))
        self.assert_callback_error(self.report(call.json["verificationId"], "ANSWERED",
                                               call.json["arsCode"]), 409, "InvalidStatus")


class ArsGatewayUnreachableTest(ArsTestCase):
    @classmethod
    def setUpClass(cls):
        cls.extra_env = {"CASHD_ARS_URL": "http://127.0.0.1:%d/calls" % fakes.free_port()}
        super().setUpClass()

    def test_an_unreachable_gateway(self):
        _, client = self.new_client()
        self.assert_error(client.create_verification("ARS"), 503, "ArsCallFailed",
                          mentions="cannot be reached")


class ArsConsoleTest(ServerTestCase):
    """CASHD_ARS_URL=console (development): the call is logged; a signed callback, as a gateway
    would post it, confirms it (README "Second factor")."""

    server_env = {"CASHD_ARS_URL": "console", "CASHD_ARS_SECRET": SECRET}

    def test_console_ars(self):
        _, client = self.new_client(balance=50000)
        reply = client.create_verification("ARS")
        self.assertEqual(reply.status, 200, reply)
        created = reply.json
        line = "verification %s ARS call to 010-1234-5678 arsCode %s (console delivery)" % (
            created["verificationId"], created["arsCode"])
        fakes.wait_for_log(self.server, line)
        gateway = fakes.PhoneGateway(SECRET)
        try:
            gateway.cashd_port = self.server.port
            answer = gateway.callback({"verificationId": created["verificationId"],
                                       "result": "ANSWERED", "digits": created["arsCode"]})
        finally:
            gateway.close()
        self.assertEqual(answer[0], 200, answer)
        self.assertEqual(client.withdraw(20000).status, 200)


class ArsOffTest(ServerTestCase):
    server_env = {"CASHD_ARS_URL": ""}

    def test_ars_off(self):
        _, client = self.new_client()
        self.assert_error(client.create_verification("ARS"), 400, "ValidationError",
                          mentions="ARS is not configured")
        # Without a secret no callback can be checked.
        gateway = fakes.PhoneGateway("")
        try:
            gateway.cashd_port = self.server.port
            answer = gateway.callback({"verificationId": "1" * 32, "result": "FAILED"},
                                      secret="x")
        finally:
            gateway.close()
        self.assertEqual(answer[0], 403, answer)
        self.assertEqual(answer[2]["errorCode"], "SignatureDoesNotMatch")


class ArsSettingsTest(unittest.TestCase):
    def test_bad_settings_stop_cashd(self):
        for env, mentions in (
                ({"CASHD_ARS_URL": "ftp://gateway/calls", "CASHD_ARS_SECRET": SECRET},
                 "CASHD_ARS_URL"),
                ({"CASHD_ARS_URL": "gateway:80/calls", "CASHD_ARS_SECRET": SECRET},
                 "CASHD_ARS_URL"),
                ({"CASHD_ARS_URL": "http://127.0.0.1:9/calls"}, "CASHD_ARS_SECRET"),
                ({"CASHD_ARS_URL": "https://127.0.0.1:9/calls", "CASHD_ARS_SECRET": "short"},
                 "CASHD_ARS_SECRET"),
                ({"CASHD_ARS_TIMEOUT_SECONDS": "0"}, "CASHD_ARS_TIMEOUT_SECONDS"),
                ({"CASHD_ARS_TIMEOUT_SECONDS": "x"}, "CASHD_ARS_TIMEOUT_SECONDS")):
            with self.subTest(env=env):
                completed = subprocess.run(
                    [cashd_bin(), "--listen", "127.0.0.1:0"],
                    env=base_env(dict({"CASHD_DB": "sqlite:/nonexistent/x.db"}, **env)),
                    capture_output=True, text=True, timeout=60)
                self.assertEqual(completed.returncode, 2, completed)
                self.assertIn(mentions, completed.stderr)


if __name__ == "__main__":
    unittest.main()
