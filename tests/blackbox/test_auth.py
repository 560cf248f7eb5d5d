"""Authentication and permissions (SPEC 1, docs/API.md "Authentication")."""

import datetime
import re
import unittest

from cashtest import (ServerTestCase, authorization, iso_date, random_salt)

BALANCE = "/cash/v1/balance"


class AuthenticationTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.customer_, self.client = self.new_client(balance=30000)

    def header_reply(self, header, path=BALANCE):
        headers = {"Authorization": header} if header is not None else {}
        return self.client.raw("GET", path, headers=headers)

    def test_signed_request_succeeds(self):
        reply = self.client.get(BALANCE)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.json["balance"], 30000)
        self.assertEqual(reply.headers["content-type"].lower().replace(" ", ""),
                         "application/json;charset=utf-8")

    def test_missing_header_is_unauthorized(self):
        self.assert_error(self.header_reply(None), 401, "Unauthorized")
        self.assert_error(self.header_reply(None, "/cash/v1/withdraw"), 401, "Unauthorized")

    def test_each_unparseable_part_is_named(self):
        key, secret = self.customer_.api_key, self.customer_.api_secret
        date, salt = iso_date(), random_salt()
        good = authorization(key, secret, date=date, salt=salt)
        signature = good.rsplit("signature=", 1)[1]
        cases = [
            ("method", "HMAC-SHA1 apiKey=%s, date=%s, salt=%s, signature=%s"
             % (key, date, salt, signature)),
            ("method", "apiKey=%s, date=%s, salt=%s, signature=%s" % (key, date, salt, signature)),
            ("apiKey", "HMAC-SHA256 date=%s, salt=%s, signature=%s" % (date, salt, signature)),
            ("apiKey", "HMAC-SHA256 apiKey=%s, date=%s, salt=%s, signature=%s"
             % (key[:15], date, salt, signature)),
            ("apiKey", "HMAC-SHA256 apiKey=%s, date=%s, salt=%s, signature=%s"
             % (key + "A", date, salt, signature)),
            ("date", "HMAC-SHA256 apiKey=%s, salt=%s, signature=%s" % (key, salt, signature)),
            ("date", "HMAC-SHA256 apiKey=%s, date=%s, salt=%s, signature=%s"
             % (key, "yesterday", salt, signature)),
            ("date", "HMAC-SHA256 apiKey=%s, date=%s, salt=%s, signature=%s"
             % (key, date.replace("Z", ""), salt, signature)),
            ("salt", "HMAC-SHA256 apiKey=%s, date=%s, signature=%s" % (key, date, signature)),
            ("salt", "HMAC-SHA256 apiKey=%s, date=%s, salt=%s, signature=%s"
             % (key, date, "a" * 11, signature)),
            ("salt", "HMAC-SHA256 apiKey=%s, date=%s, salt=%s, signature=%s"
             % (key, date, "a" * 65, signature)),
            ("signature", "HMAC-SHA256 apiKey=%s, date=%s, salt=%s" % (key, date, salt)),
            ("signature", "HMAC-SHA256 apiKey=%s, date=%s, salt=%s, signature=%s"
             % (key, date, salt, "zz" + signature[2:])),
        ]
        for part, header in cases:
            with self.subTest(part=part, header=header):
                self.assert_error(self.header_reply(header), 400, "ValidationError",
                                  mentions=part)

    def test_salt_of_12_and_64_bytes_is_accepted(self):
        for length in (12, 64):
            with self.subTest(length=length):
                reply = self.client.get(BALANCE, salt=random_salt(length))
                self.assertEqual(reply.status, 200, reply)

    def test_hmac_md5_is_accepted(self):
        reply = self.client.get(BALANCE, hmac_method="HMAC-MD5")
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.json["balance"], 30000)

    def test_offset_dates_are_accepted(self):
        for offset in (9 * 60, -5 * 60, 0):
            with self.subTest(offset=offset):
                reply = self.client.get(BALANCE, date=iso_date(offset_minutes=offset))
                self.assertEqual(reply.status, 200, reply)
        reply = self.client.get(BALANCE, date=iso_date(milliseconds=False))
        self.assertEqual(reply.status, 200, reply)

    def test_date_within_the_skew_is_accepted(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        for minutes in (-14, 14):
            with self.subTest(minutes=minutes):
                date = iso_date(now + datetime.timedelta(minutes=minutes))
                self.assertEqual(self.client.get(BALANCE, date=date).status, 200)

    def test_request_time_too_skewed_both_directions(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        for minutes in (-16, 16, -600):
            with self.subTest(minutes=minutes):
                date = iso_date(now + datetime.timedelta(minutes=minutes))
                reply = self.client.get(BALANCE, date=date)
                self.assert_error(reply, 403, "RequestTimeTooSkewed")
                message = reply.json["errorMessage"]
                self.assertRegex(message, r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}",
                                 "the message tells the server time")
                self.assertTrue(re.search(r"\b(15|900)\b", message),
                                "the message tells the allowed skew: %s" % message)

    def test_seoul_wall_clock_with_a_utc_offset_is_skewed(self):
        """A +09:00 date is compared as an instant: Seoul's wall clock marked +00:00 is 9 h off,
        and UTC's wall clock marked +09:00 is 9 h in the past."""
        now = datetime.datetime.now(datetime.timezone.utc)
        seoul_as_utc = (now + datetime.timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
        utc_as_seoul = now.strftime("%Y-%m-%dT%H:%M:%S.000+09:00")
        for date in (seoul_as_utc, utc_as_seoul):
            with self.subTest(date=date):
                self.assert_error(self.client.get(BALANCE, date=date), 403,
                                  "RequestTimeTooSkewed")

    def test_unknown_api_key(self):
        header = authorization("ZZZZZZZZZZZZZZZZ", self.customer_.api_secret)
        self.assert_error(self.header_reply(header), 403, "InvalidAPIKey")

    def test_revoked_api_key(self):
        self.assertEqual(self.client.get(BALANCE).status, 200)
        self.server.ctl("apikey", "revoke", self.customer_.api_key)
        self.assert_error(self.client.get(BALANCE), 403, "InvalidAPIKey")

    def test_wrong_signature(self):
        header = authorization(self.customer_.api_key, "X" * 32)
        self.assert_error(self.header_reply(header), 403, "SignatureDoesNotMatch")
        md5_with_sha256_name = authorization(self.customer_.api_key, self.customer_.api_secret,
                                             method="HMAC-MD5").replace("HMAC-MD5",
                                                                        "HMAC-SHA256")
        # 32 hex digits cannot be an HMAC-SHA256 signature: the header does not parse
        self.assert_error(self.header_reply(md5_with_sha256_name), 400, "ValidationError",
                          mentions="signature")
        wrong_length = authorization(self.customer_.api_key, self.customer_.api_secret)[:-2]
        self.assert_error(self.header_reply(wrong_length), 400, "ValidationError",
                          mentions="signature")
        flipped = authorization(self.customer_.api_key, self.customer_.api_secret)
        flipped = flipped[:-1] + ("0" if flipped[-1] != "0" else "1")
        self.assert_error(self.header_reply(flipped), 403, "SignatureDoesNotMatch")

    def test_a_signature_is_accepted_once(self):
        header = self.client.sign()
        self.assertEqual(self.header_reply(header).status, 200)
        self.assert_error(self.header_reply(header), 403, "DuplicatedSignature")
        self.assert_error(self.header_reply(header, "/cash/v1/balance/history"), 403,
                          "DuplicatedSignature")

    def test_a_rejected_signature_is_not_remembered(self):
        """Only a verified signature is remembered: someone without the secret cannot burn a
        client's next header by sending a wrong one first."""
        date, salt = iso_date(), random_salt()
        wrong = authorization(self.customer_.api_key, "W" * 32, date=date, salt=salt)
        self.assert_error(self.header_reply(wrong), 403, "SignatureDoesNotMatch")
        right = authorization(self.customer_.api_key, self.customer_.api_secret, date=date,
                              salt=salt)
        self.assertEqual(self.header_reply(right).status, 200)

    def test_same_date_and_salt_for_another_key_is_not_a_duplicate(self):
        _, other_client = self.new_client(balance=0)
        date, salt = iso_date(), random_salt()
        self.assertEqual(self.client.get(BALANCE, date=date, salt=salt).status, 200)
        self.assertEqual(other_client.get(BALANCE, date=date, salt=salt).status, 200)


class ReplayAcrossRestartTest(ServerTestCase):
    def test_duplicated_signature_after_a_restart(self):
        _, client = self.new_client(balance=1000)
        header = client.sign()
        self.assertEqual(client.raw("GET", BALANCE, headers={"Authorization": header}).status,
                         200)
        client.close()
        self.server.restart()
        reply = client.raw("GET", BALANCE, headers={"Authorization": header})
        self.assert_error(reply, 403, "DuplicatedSignature")
        self.assertEqual(client.get(BALANCE).status, 200)


class PermissionTest(ServerTestCase):
    """Every permission error, with members and keys made by cashctl (docs/API.md order)."""

    def write(self, client):
        return client.create_verification()

    def test_owner_reads_and_writes(self):
        _, client = self.new_client()
        self.assertEqual(client.get(BALANCE).status, 200)
        self.assertEqual(self.write(client).status, 200)

    def test_business_verified_account_writes(self):
        _, client = self.new_client(verified="business")
        self.assertEqual(self.write(client).status, 200)

    def test_developer_and_member_read_but_cannot_write(self):
        for role in ("DEVELOPER", "MEMBER"):
            with self.subTest(role=role):
                customer, client = self.new_client(role=role, balance=50000)
                self.assertEqual(client.get(BALANCE).status, 200)
                self.assertEqual(client.get("/cash/v1/withdraw").status, 200)
                self.assertEqual(client.get("/cash/v1/balance/history").status, 200)
                self.assertEqual(client.get("/cash/v1/withdraw/quote?amount=20000").status, 200)
                self.assertEqual(client.get("/cash/v1/bank/accounts").status, 200)
                self.assert_error(self.write(client), 403, "MissingMemberPermission")
                self.assert_error(client.withdraw(20000), 403, "MissingMemberPermission")
                self.assert_error(client.post("/cash/v1/bank/accounts",
                                              {"bankCode": "004", "accountNumber": "1234567",
                                               "holderName": "x"}),
                                  403, "MissingMemberPermission")
                self.assert_error(client.delete("/cash/v1/bank/accounts"), 403,
                                  "MissingMemberPermission")
                self.assertEqual(client.balance(), 50000)

    def test_read_only_key(self):
        _, client = self.new_client(scopes="cash:read")
        self.assertEqual(client.get(BALANCE).status, 200)
        self.assert_error(self.write(client), 403, "MissingAccountPermission")
        self.assert_error(client.withdraw(20000), 403, "MissingAccountPermission")

    def test_write_only_key_cannot_read(self):
        _, client = self.new_client(scopes="cash:write")
        self.assert_error(client.get(BALANCE), 403, "MissingAccountPermission")
        self.assertEqual(self.write(client).status, 200)

    def test_account_scope_is_checked_before_the_role(self):
        _, client = self.new_client(scopes="cash:read", role="DEVELOPER")
        self.assert_error(self.write(client), 403, "MissingAccountPermission")

    def test_role_is_checked_before_the_statuses(self):
        _, client = self.new_client(role="DEVELOPER", account_status="INACTIVE")
        self.assert_error(self.write(client), 403, "MissingMemberPermission")
        self.assert_error(client.get(BALANCE), 403, "AccountNotActive")

    def test_inactive_and_deleted_accounts(self):
        for status in ("INACTIVE", "DELETED"):
            with self.subTest(status=status):
                _, client = self.new_client(account_status=status)
                self.assert_error(client.get(BALANCE), 403, "AccountNotActive")
                self.assert_error(self.write(client), 403, "AccountNotActive")

    def test_account_status_is_checked_before_the_member_status(self):
        _, client = self.new_client(account_status="INACTIVE", member_status="INACTIVE")
        self.assert_error(client.get(BALANCE), 403, "AccountNotActive")

    def test_members_that_are_not_active(self):
        for status in ("UNVERIFIED", "INACTIVE", "DELETED"):
            with self.subTest(status=status):
                _, client = self.new_client(member_status=status)
                self.assert_error(client.get(BALANCE), 403, "MemberNotActive")
                self.assert_error(self.write(client), 403, "MemberNotActive")

    def test_unverified_account_reads_but_cannot_write(self):
        _, client = self.new_client(verified="none", balance=40000)
        self.assertEqual(client.get(BALANCE).status, 200)
        self.assert_error(self.write(client), 403, "AccountNotVerified")
        self.assert_error(client.withdraw(20000), 403, "AccountNotVerified")
        self.assert_error(client.post("/cash/v1/withdraw/%s/cancel" % ("1" * 32)), 403,
                          "AccountNotVerified")
        self.assertEqual(client.balance(), 40000)

    def test_status_changes_take_effect_at_once(self):
        customer, client = self.new_client()
        self.assertEqual(client.get(BALANCE).status, 200)
        self.server.ctl("account", "set", customer.account_id, "--status", "INACTIVE")
        self.assert_error(client.get(BALANCE), 403, "AccountNotActive")
        self.server.ctl("account", "set", customer.account_id, "--status", "ACTIVE")
        self.assertEqual(client.get(BALANCE).status, 200)
        self.server.ctl("member", "set", customer.member_id, "--role", "DEVELOPER")
        self.assert_error(self.write(client), 403, "MissingMemberPermission")
        self.server.ctl("member", "set", customer.member_id, "--role", "OWNER", "--status",
                        "INACTIVE")
        self.assert_error(self.write(client), 403, "MemberNotActive")
        self.server.ctl("member", "set", customer.member_id, "--status", "ACTIVE")
        self.server.ctl("account", "set", customer.account_id, "--verified", "none")
        self.assert_error(self.write(client), 403, "AccountNotVerified")

    def test_authentication_comes_before_permissions(self):
        customer, _ = self.new_client(role="DEVELOPER", account_status="INACTIVE")
        header = authorization(customer.api_key, "X" * 32)
        reply = self.anonymous().raw("GET", BALANCE, headers={"Authorization": header})
        self.assert_error(reply, 403, "SignatureDoesNotMatch")


if __name__ == "__main__":
    unittest.main()
