"""The second factor (SPEC 5; docs/API.md "Second factor"): email OTP with console delivery."""

import datetime
import secrets
import time
import unittest

from cashtest import (ISO_MS_UTC, VERIFICATION_FIELDS, ServerTestCase, add_member, parse_iso,
                      snapshot)

VERIFICATIONS = "/cash/v1/verifications"


def wrong_code(right):
    return "%06d" % ((int(right) + 1) % 1000000)


class VerificationTest(ServerTestCase):
    def create(self, client):
        reply = client.create_verification()
        self.assertEqual(reply.status, 200, reply)
        return reply.json

    def state(self, client, verification_id):
        reply = client.get("%s/%s" % (VERIFICATIONS, verification_id))
        self.assertEqual(reply.status, 200, reply)
        return reply.json

    def test_create_shape_and_console_delivery(self):
        customer, client = self.new_client()
        created = self.create(client)
        self.assertEqual(list(created.keys()), VERIFICATION_FIELDS)
        self.assertRegex(created["verificationId"], r"^\d{32}$")
        self.assertEqual(created["method"], "EMAIL_OTP")
        self.assertEqual(created["status"], "PENDING")
        self.assertEqual((created["attemptsLeft"], created["usesLeft"]), (5, 1))
        self.assertIsNone(created["dateConfirmed"])
        for field in ("dateCreated", "dateExpires"):
            self.assertRegex(created[field], ISO_MS_UTC)
        window = parse_iso(created["dateExpires"]) - parse_iso(created["dateCreated"])
        self.assertEqual(window, datetime.timedelta(minutes=5))
        code = self.server.code_for(created["verificationId"])
        self.assertRegex(code, r"^\d{6}$")
        line = [l for l in self.server.lines if created["verificationId"] + " code" in l][0]
        self.assertIn("for %s (console delivery)" % customer.email, line)
        self.assertEqual(self.state(client, created["verificationId"]), created)

    def test_confirm(self):
        customer, client = self.new_client()
        created = self.create(client)
        verification_id = created["verificationId"]
        reply = client.confirm(verification_id, self.server.code_for(verification_id))
        self.assertEqual(reply.status, 200, reply)
        confirmed = reply.json
        self.assertEqual(list(confirmed.keys()), VERIFICATION_FIELDS)
        self.assertEqual(confirmed["status"], "CONFIRMED")
        self.assertEqual(confirmed["verificationId"], verification_id)
        self.assertRegex(confirmed["dateConfirmed"], ISO_MS_UTC)
        self.assertGreaterEqual(parse_iso(confirmed["dateConfirmed"]),
                                parse_iso(created["dateCreated"]))
        self.assertEqual(confirmed["usesLeft"], 1)
        self.assertEqual(self.state(client, verification_id)["status"], "CONFIRMED")
        again = client.confirm(verification_id, self.server.code_for(verification_id))
        self.assert_error(again, 409, "InvalidStatus")

    def test_codes_differ(self):
        _, client = self.new_client()
        codes = set()
        for _ in range(4):
            codes.add(self.server.code_for(self.create(client)["verificationId"]))
        self.assertGreater(len(codes), 1)

    def test_wrong_codes_then_locked(self):
        _, client = self.new_client()
        verification_id = self.create(client)["verificationId"]
        right = self.server.code_for(verification_id)
        for attempts_left in (4, 3, 2, 1):
            reply = client.confirm(verification_id, wrong_code(right))
            self.assert_error(reply, 400, "InvalidVerificationCode")
            self.assertIn(str(attempts_left), reply.json["errorMessage"])
            self.assertEqual(self.state(client, verification_id)["attemptsLeft"], attempts_left)
        self.assert_error(client.confirm(verification_id, wrong_code(right)), 429,
                          "TooManyAttempts")
        self.assert_error(client.confirm(verification_id, right), 429, "TooManyAttempts")
        state = self.state(client, verification_id)
        self.assertEqual((state["status"], state["attemptsLeft"]), ("LOCKED", 0))
        self.assert_error(client.withdraw(20000, verification_id), 403, "SecondFactorRequired")

    def test_right_code_after_some_wrong_ones(self):
        _, client = self.new_client()
        verification_id = self.create(client)["verificationId"]
        right = self.server.code_for(verification_id)
        self.assert_error(client.confirm(verification_id, wrong_code(right)), 400,
                          "InvalidVerificationCode")
        reply = client.confirm(verification_id, right)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.json["attemptsLeft"], 4)

    def test_malformed_codes_do_not_count(self):
        _, client = self.new_client()
        verification_id = self.create(client)["verificationId"]
        path = "%s/%s/confirm" % (VERIFICATIONS, verification_id)
        for body in ('{"code": "12345"}', '{"code": "1234567"}', '{"code": 123456}',
                     '{"code": "abcdef"}', '{"code": null}', "{}",
                     '{"code": "123456", "extra": 1}', '{"code": " 12345"}'):
            with self.subTest(body=body):
                self.assert_error(client.post(path, body), 400, "ValidationError")
        self.assertEqual(self.state(client, verification_id)["attemptsLeft"], 5)
        self.assertEqual(client.confirm(verification_id,
                                        self.server.code_for(verification_id)).status, 200)

    def test_methods(self):
        _, client = self.new_client()
        # TOTP needs an authenticator app enrolled first (test_totp.py).
        for body in ('{"method": "SMS"}', '{"method": "email_otp"}', '{"method": 1}', "{}",
                     '{"method": "ars"}', '{"method": "TOTP"}', '{"method": null}',
                     '{"method": ["ARS"]}'):
            with self.subTest(body=body):
                self.assert_error(client.post(VERIFICATIONS, body), 400, "ValidationError",
                                  mentions="method")
        body = '{"method": "EMAIL_OTP", "email": "x@example.com"}'
        self.assert_error(client.post(VERIFICATIONS, body), 400, "ValidationError",
                          mentions="email")

    def test_another_members_verification_is_not_found(self):
        _, client = self.new_client()
        _, other = self.new_client()
        verification_id = self.create(client)["verificationId"]
        code = self.server.code_for(verification_id)
        self.assert_error(other.get("%s/%s" % (VERIFICATIONS, verification_id)), 404, "NotFound")
        self.assert_error(other.confirm(verification_id, code), 404, "NotFound")
        state = self.state(client, verification_id)
        self.assertEqual((state["status"], state["attemptsLeft"]), ("PENDING", 5))
        self.assertEqual(client.confirm(verification_id, code).status, 200)

    def test_a_colleagues_verification_is_not_found(self):
        customer, client = self.new_client()
        colleague = self.client_of(add_member(self.server, customer.account_id))
        verification_id = self.create(client)["verificationId"]
        code = self.server.code_for(verification_id)
        self.assert_error(colleague.get("%s/%s" % (VERIFICATIONS, verification_id)), 404,
                          "NotFound")
        self.assert_error(colleague.confirm(verification_id, code), 404, "NotFound")
        self.assertEqual(client.confirm(verification_id, code).status, 200)

    def test_unknown_and_malformed_ids(self):
        _, client = self.new_client()
        unknown = "1" + "".join(secrets.choice("0123456789") for _ in range(31))
        for verification_id in (unknown, "123", "x" * 32):
            with self.subTest(verification_id=verification_id):
                self.assert_error(client.get("%s/%s" % (VERIFICATIONS, verification_id)), 404,
                                  "NotFound")
                self.assert_error(client.confirm(verification_id, "123456"), 404, "NotFound")

    def test_after_its_use_a_verification_is_expired(self):
        _, client = self.new_client(balance=50000)
        verification_id = self.verify(client)
        self.assertEqual(client.withdraw(20000).status, 200)
        state = self.state(client, verification_id)
        self.assertEqual((state["status"], state["usesLeft"]), ("EXPIRED", 0))

    def test_writes_need_write_permission(self):
        _, developer = self.new_client(role="DEVELOPER")
        self.assert_error(developer.create_verification(), 403, "MissingMemberPermission")
        _, unverified = self.new_client(verified="none")
        self.assert_error(unverified.create_verification(), 403, "AccountNotVerified")
        _, owner = self.new_client()
        verification_id = self.create(owner)["verificationId"]
        self.assertEqual(owner.get("%s/%s" % (VERIFICATIONS, verification_id)).status, 200)

    def test_codes_and_secrets_are_not_in_the_log_otherwise(self):
        customer, client = self.new_client()
        verification_id = self.verify(client)
        code = self.server.code_for(verification_id)
        lines = [l for l in self.server.lines if code in l and "(console delivery)" not in l]
        self.assertEqual(lines, [], "the code appears only in its console delivery line")
        self.assertNotIn(customer.api_secret, self.server.log_text())


class ShortWindowTest(ServerTestCase):
    server_env = {"CASHD_VERIFICATION_WINDOW_SECONDS": "2"}

    def test_verification_expired(self):
        _, client = self.new_client(balance=50000)
        created = client.create_verification()
        self.assertEqual(created.status, 200, created)
        verification_id = created.json["verificationId"]
        self.assertEqual(parse_iso(created.json["dateExpires"])
                         - parse_iso(created.json["dateCreated"]), datetime.timedelta(seconds=2))
        time.sleep(2.5)
        before = snapshot(client)
        reply = client.confirm(verification_id, self.server.code_for(verification_id))
        self.assert_error(reply, 400, "VerificationExpired")
        self.assertEqual(client.get("%s/%s" % (VERIFICATIONS, verification_id)).json["status"],
                         "EXPIRED")
        self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")
        self.assertEqual(snapshot(client), before)

    def test_a_confirmed_verification_expires_unused(self):
        _, client = self.new_client(balance=50000)
        for _ in range(5):  # the host may pause the VM between create and confirm
            created = client.create_verification().json
            verification_id = created["verificationId"]
            reply = client.confirm(verification_id, self.server.code_for(verification_id))
            if reply.status == 200:
                break
            self.assert_error(reply, 400, "VerificationExpired")
        self.assertEqual(reply.status, 200, reply)
        time.sleep(2.5)
        self.assertEqual(client.get("%s/%s" % (VERIFICATIONS, verification_id)).json["status"],
                         "EXPIRED")
        before = snapshot(client)
        self.assert_error(client.withdraw(20000, verification_id), 403, "SecondFactorRequired")
        self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")
        self.assertEqual(snapshot(client), before)


if __name__ == "__main__":
    unittest.main()
