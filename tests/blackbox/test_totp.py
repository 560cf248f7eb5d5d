"""TOTP, the third method (SPEC 5; RFC 6238: SHA-1, 6 digits, 30-second steps, one step of
drift): enrolment with `cashctl member totp`, a withdrawal authorised by the app's code, each code
accepted once - also across two cashd processes on one database - and the secret sealed at rest.
The codes are computed here independently of cashd, from the otpauth:// URI."""

import base64
import hashlib
import hmac
import struct
import time
import unittest
import urllib.parse

from cashtest import VERIFICATION_FIELDS, Server, ServerTestCase

VERIFICATIONS = "/cash/v1/verifications"
PERIOD = 30


def hotp(key, counter, digits=6):
    """RFC 4226 section 5.3."""
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%0*d" % (digits, value % 10 ** digits)


def step_now():
    return int(time.time()) // PERIOD


def key_of(uri):
    secret = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)["secret"][0]
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


class HotpSelfTest(unittest.TestCase):
    """This file's own TOTP against RFC 6238 Appendix B (SHA-1), so that it can be trusted."""

    def test_rfc6238_vectors(self):
        key = b"12345678901234567890"
        for seconds, code in ((59, "94287082"), (1111111109, "07081804"),
                              (1111111111, "14050471"), (1234567890, "89005924"),
                              (2000000000, "69279037"), (20000000000, "65353130")):
            self.assertEqual(hotp(key, seconds // PERIOD, 8), code)


class TotpTest(ServerTestCase):
    def enrol(self, customer):
        result = self.server.ctl("member", "totp", customer.member_id)
        self.assertEqual(result.code, 0, result)
        self.assertEqual(len(result.lines), 1, result)
        return result.lines[0]

    def fresh_step(self):
        """The current step, after waiting (at most a third of a step) for one with 20 seconds
        left, so that a test's codes do not straddle a step boundary."""
        left = PERIOD - time.time() % PERIOD
        if left < 20:
            time.sleep(left + 0.2)
        return step_now()

    def create(self, client):
        reply = client.create_verification("TOTP")
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(list(reply.json.keys()), VERIFICATION_FIELDS)
        self.assertEqual((reply.json["method"], reply.json["status"]), ("TOTP", "PENDING"))
        return reply.json["verificationId"]

    def test_the_otpauth_uri(self):
        customer, _ = self.new_client()
        uri = self.enrol(customer)
        parts = urllib.parse.urlsplit(uri)
        self.assertEqual((parts.scheme, parts.netloc), ("otpauth", "totp"))
        self.assertEqual(urllib.parse.unquote(parts.path), "/cashd:%s" % customer.email)
        query = urllib.parse.parse_qs(parts.query)
        self.assertRegex(query["secret"][0], r"^[A-Z2-7]{32}$")  # 160 bits, unpadded base32
        self.assertEqual(len(key_of(uri)), 20)
        self.assertEqual({k: v[0] for k, v in query.items() if k != "secret"},
                         {"issuer": "cashd", "algorithm": "SHA1", "digits": "6",
                          "period": "30"})
        as_json = self.server.ctl("--json", "member", "totp", customer.member_id)
        self.assertEqual(as_json.code, 0, as_json)
        self.assertEqual(list(as_json.json().keys()), ["memberId", "otpauthUri"])
        self.assertEqual(as_json.json()["memberId"], customer.member_id)
        self.assertNotEqual(key_of(as_json.json()["otpauthUri"]), key_of(uri),
                            "enrolling again makes a new secret")

    def test_a_withdrawal_authorised_by_the_app(self):
        customer, client = self.new_client(balance=50000)
        key = key_of(self.enrol(customer))
        step = self.fresh_step()
        verification_id = self.create(client)
        reply = client.confirm(verification_id, hotp(key, step))
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.json["status"], "CONFIRMED")
        self.assertEqual(client.withdraw(20000).status, 200)
        self.assertEqual(client.balance(), 30000)

    def test_a_code_is_accepted_once(self):
        customer, client = self.new_client()
        key = key_of(self.enrol(customer))
        step = self.fresh_step()
        code = hotp(key, step)
        self.assertEqual(client.confirm(self.create(client), code).status, 200)
        second = self.create(client)
        reply = client.confirm(second, code)
        self.assert_error(reply, 400, "InvalidVerificationCode", mentions="used already")
        self.assertIn("4 attempts left", reply.json["errorMessage"])
        self.assertEqual(client.get("%s/%s" % (VERIFICATIONS, second)).json["attemptsLeft"], 4)

    def test_one_step_of_drift_either_way(self):
        customer, client = self.new_client()
        key = key_of(self.enrol(customer))
        step = self.fresh_step()
        for offset in (-1, 0, 1):  # oldest first: accepting a step refuses every older one
            with self.subTest(offset=offset):
                reply = client.confirm(self.create(client), hotp(key, step + offset))
                self.assertEqual(reply.status, 200, reply)
        for offset, mentions in ((2, "is wrong"), (-2, "is wrong"), (0, "used already"),
                                 (-1, "used already")):
            with self.subTest(offset=offset):
                codes = {hotp(key, step + o) for o in (-1, 0, 1)}
                code = hotp(key, step + offset)
                if offset in (2, -2) and code in codes:
                    continue  # a million codes: two steps may share one
                self.assert_error(client.confirm(self.create(client), code), 400,
                                  "InvalidVerificationCode", mentions=mentions)

    def test_wrong_and_malformed_codes(self):
        customer, client = self.new_client()
        key = key_of(self.enrol(customer))
        step = self.fresh_step()
        verification_id = self.create(client)
        path = "%s/%s/confirm" % (VERIFICATIONS, verification_id)
        for body in ('{"code": "12345"}', '{"code": "1234567"}', '{"code": 123456}',
                     '{"code": "abcdef"}', '{"code": null}', '{"code": "12 456"}', "{}",
                     '{"code": "123456", "step": 1}'):
            with self.subTest(body=body):
                self.assert_error(client.post(path, body), 400, "ValidationError")
        right = hotp(key, step)
        wrong = "%06d" % ((int(right) + 1) % 1000000)
        self.assert_error(client.confirm(verification_id, wrong), 400, "InvalidVerificationCode",
                          mentions="4 attempts left")
        self.assertEqual(client.confirm(verification_id, right).status, 200)

    def test_not_enrolled(self):
        _, client = self.new_client()
        self.assert_error(client.create_verification("TOTP"), 400, "ValidationError",
                          mentions="no authenticator app")

    def test_another_secret_does_not_confirm(self):
        customer, client = self.new_client()
        old = key_of(self.enrol(customer))
        new = key_of(self.enrol(customer))
        step = self.fresh_step()
        verification_id = self.create(client)
        if hotp(old, step) != hotp(new, step):
            self.assert_error(client.confirm(verification_id, hotp(old, step)), 400,
                              "InvalidVerificationCode")
        self.assertEqual(client.confirm(verification_id, hotp(new, step)).status, 200)

    def test_the_secret_is_sealed_at_rest_and_never_logged(self):
        customer, client = self.new_client()
        uri = self.enrol(customer)
        key = key_of(uri)
        secret = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)["secret"][0]
        self.assertEqual(client.confirm(self.create(client), hotp(key, self.fresh_step())).status,
                         200)
        stored = self.server.db.stored_bytes()
        for form in (secret.encode(), key, base64.b64encode(key), key.hex().encode()):
            self.assertNotIn(form, stored)
        self.assertNotIn(secret, self.server.log_text())

    def test_cashctl_refusals(self):
        for args, code, mentions in ((["member", "totp", "123"], 2, "bad member id"),
                                     (["member", "totp", "1" * 14], 1, "no member"),
                                     (["member", "totp", "1" * 14, "--issuer", "x"], 2,
                                      "no option"),
                                     (["member", "totp"], 2, "missing argument")):
            with self.subTest(args=args):
                result = self.server.ctl(*args)
                self.assertEqual(result.code, code, result)
                self.assertIn(mentions, result.err)


class TotpTwoProcessesTest(ServerTestCase):
    def test_a_code_is_accepted_once_across_processes(self):
        customer, client = self.new_client()
        other = Server(db=self.server.db).start()
        try:
            result = self.server.ctl("member", "totp", customer.member_id)
            self.assertEqual(result.code, 0, result)
            key = key_of(result.lines[0])
            left = PERIOD - time.time() % PERIOD
            if left < 20:
                time.sleep(left + 0.2)
            code = hotp(key, step_now())
            first = client.create_verification("TOTP").json["verificationId"]
            self.assertEqual(client.confirm(first, code).status, 200)
            other_client = customer.client()
            other_client.server = other
            try:
                second = other_client.create_verification("TOTP")
                self.assertEqual(second.status, 200, second)
                reply = other_client.confirm(second.json["verificationId"], code)
                self.assert_error(reply, 400, "InvalidVerificationCode", mentions="used already")
            finally:
                other_client.close()
        finally:
            self.assertEqual(other.stop(), 0)


if __name__ == "__main__":
    unittest.main()
