"""The payout bank account (SPEC 2, 3, 8; docs/API.md "Bank account"): stored sealed, always
answered masked, registered and deleted with a second factor."""

import json
import unittest

from cashtest import BANK_FIELDS, ISO_MS_UTC, ServerTestCase, snapshot

BANK = "/cash/v1/bank/accounts"
GOOD = {"bankCode": "004", "accountNumber": "123-456-7890", "holderName": "홍길동"}
SECRET_NUMBERS = ["3029384756", "302-938-4756", "110293847561", "110-293-847561"]


class BankAccountTest(ServerTestCase):
    # These tests register accounts through the API and withdraw at once; the cooling-off after
    # such a change is tested in test_abuse.py.
    server_env = {"CASHD_BANK_COOLING_OFF_HOURS": "0"}

    def assert_bank(self, reply, customer, code, masked, holder):
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(list(reply.json.keys()), BANK_FIELDS)
        self.assertEqual(reply.json["accountId"], customer.account_id)
        self.assertEqual((reply.json["bankCode"], reply.json["accountNumber"],
                          reply.json["holderName"]), (code, masked, holder))
        for field in ("dateCreated", "dateUpdated"):
            self.assertRegex(reply.json[field], ISO_MS_UTC)

    def test_get_the_account_set_by_cashctl(self):
        customer, client = self.new_client()
        self.assert_bank(client.get(BANK), customer, "004", "******7890", "홍길동")

    def test_none_registered(self):
        _, client = self.new_client(bank=False)
        self.assert_error(client.get(BANK), 404, "NotFound")

    def test_register_needs_a_second_factor_and_spends_it(self):
        customer, client = self.new_client(bank=False)
        self.assert_error(client.post(BANK, GOOD), 403, "SecondFactorRequired")
        self.assert_error(client.get(BANK), 404, "NotFound")
        verification_id = self.verify(client)
        body = {"bankCode": "088", "accountNumber": "302-938-4756", "holderName": "Kim Minsu"}
        self.assert_bank(client.post(BANK, body), customer, "088", "******4756", "Kim Minsu")
        self.assert_bank(client.get(BANK), customer, "088", "******4756", "Kim Minsu")
        spent = client.get("/cash/v1/verifications/%s" % verification_id).json
        self.assertEqual(spent["usesLeft"], 0)
        self.assert_error(client.post(BANK, GOOD), 403, "SecondFactorRequired")
        self.assert_bank(client.get(BANK), customer, "088", "******4756", "Kim Minsu")

    def test_replace_keeps_the_creation_date(self):
        customer, client = self.new_client()
        first = client.get(BANK).json
        self.verify(client)
        body = {"bankCode": "011", "accountNumber": "110293847561", "holderName": "Park",
                "authenticationCode": "123", "transactionId": "tx-1"}
        replaced = client.post(BANK, body)
        self.assert_bank(replaced, customer, "011", "******7561", "Park")
        self.assertEqual(replaced.json["dateCreated"], first["dateCreated"])
        self.assertGreaterEqual(replaced.json["dateUpdated"], first["dateUpdated"])

    def test_x_verification_id_is_honoured(self):
        customer, client = self.new_client(bank=False)
        _, other = self.new_client(bank=False)
        others = self.verify(other)
        self.assert_error(client.post(BANK, GOOD, headers={"X-Verification-Id": others}), 403,
                          "SecondFactorRequired")
        mine = self.verify(client)
        self.assert_bank(client.post(BANK, GOOD, headers={"X-Verification-Id": mine}), customer,
                         "004", "******7890", "홍길동")

    def test_validation(self):
        customer, client = self.new_client(bank=False)
        verification_id = self.verify(client)
        cases = [
            ("bankCode", {"bankCode": "04"}),
            ("bankCode", {"bankCode": "abc"}),
            ("bankCode", {"bankCode": "1" * 17}),
            ("bankCode", {"bankCode": 4}),
            ("bankCode", {"bankCode": None}),
            ("accountNumber", {"accountNumber": "12345"}),
            ("accountNumber", {"accountNumber": "1" * 21}),
            ("accountNumber", {"accountNumber": "123--4567"}),
            ("accountNumber", {"accountNumber": "-1234567"}),
            ("accountNumber", {"accountNumber": "1234567-"}),
            ("accountNumber", {"accountNumber": "12a4567"}),
            ("accountNumber", {"accountNumber": 1234567890}),
            ("holderName", {"holderName": ""}),
            ("holderName", {"holderName": "a\u0001b"}),
            ("holderName", {"holderName": "x" * 121}),
            ("holderName", {"holderName": ["x"]}),
            ("authenticationCode", {"authenticationCode": 123}),
            ("nickname", {"nickname": "savings"}),
        ]
        before = snapshot(client)
        for name, change in cases:
            body = dict(GOOD)
            body.update(change)
            with self.subTest(name=name, body=body):
                self.assert_error(client.post(BANK, body), 400, "ValidationError", mentions=name)
        for missing in GOOD:
            body = {k: v for k, v in GOOD.items() if k != missing}
            with self.subTest(missing=missing):
                self.assert_error(client.post(BANK, body), 400, "ValidationError",
                                  mentions=missing)
        self.assertEqual(snapshot(client), before)
        self.assert_error(client.get(BANK), 404, "NotFound")
        body = {"bankCode": "004", "accountNumber": "1" * 20, "holderName": "x" * 120}
        reply = client.post(BANK, body, headers={"X-Verification-Id": verification_id})
        self.assert_bank(reply, customer, "004", "******1111", "x" * 120)

    def test_shortest_number_is_masked_too(self):
        customer, client = self.new_client(bank=False)
        self.verify(client)
        body = dict(GOOD, accountNumber="12-34-56")
        self.assert_bank(client.post(BANK, body), customer, "004", "******3456", "홍길동")

    def test_holder_name_limit_is_in_bytes(self):
        customer, client = self.new_client(bank=False)
        self.verify(client)
        body = dict(GOOD, holderName="가" * 41)  # 123 bytes of UTF-8
        self.assert_error(client.post(BANK, body), 400, "ValidationError", mentions="holderName")
        body = dict(GOOD, holderName="가" * 40)  # 120 bytes
        self.assert_bank(client.post(BANK, body), customer, "004", "******7890", "가" * 40)

    def test_delete(self):
        customer, client = self.new_client()
        self.assert_error(client.delete(BANK), 403, "SecondFactorRequired")
        self.assertEqual(client.get(BANK).status, 200)
        self.verify(client)
        reply = client.delete(BANK)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.json, {"n": 1})
        self.assert_error(client.get(BANK), 404, "NotFound")
        verification_id = self.verify(client)
        self.assert_error(client.delete(BANK), 404, "NotFound")
        self.assertEqual(client.get("/cash/v1/verifications/%s" % verification_id)
                         .json["usesLeft"], 1, "a 404 does not spend the verification")
        self.assertEqual(client.post(BANK, GOOD).status, 200)

    def test_withdraw_after_delete_is_refused(self):
        customer, client = self.new_client(balance=50000)
        self.verify(client)
        self.assertEqual(client.delete(BANK).status, 200)
        self.verify(client)
        self.assert_error(client.withdraw(20000), 400, "BankAccountNotRegistered")
        self.assertEqual(client.balance(), 50000)

    def test_content_type_is_required(self):
        _, client = self.new_client(bank=False)
        self.verify(client)
        reply = client.post(BANK, json.dumps(GOOD), content_type="text/plain")
        self.assert_error(reply, 415, "UnsupportedMediaType")

    def test_full_number_never_leaves_the_server(self):
        """Register, list, withdraw, read: no response and no log line holds a full number."""
        customer, client = self.new_client(balance=100000, bank=False)
        self.verify(client)
        body = {"bankCode": "004", "accountNumber": "302-938-4756", "holderName": "Choi"}
        self.assertEqual(client.post(BANK, body).status, 200)
        self.verify(client)
        withdrawal = client.withdraw(20000)
        self.assertEqual(withdrawal.status, 200, withdrawal)
        client.get("/cash/v1/withdraw")
        client.get("/cash/v1/withdraw/%s" % withdrawal.json["withdrawId"])
        client.get(BANK)
        self.verify(client)
        body = {"bankCode": "004", "accountNumber": "110-293-847561", "holderName": "Choi"}
        self.assertEqual(client.post(BANK, body).status, 200)
        listed = self.server.ctl("--json", "withdraw", "list", "--account", customer.account_id)
        outputs = [listed.out.encode()] + client.bodies
        log = self.server.log_text()
        for number in SECRET_NUMBERS:
            for output in outputs:
                self.assertNotIn(number.encode(), output)
            self.assertNotIn(number, log)
        self.assertNotIn(customer.api_secret, log)
        stored = self.server.db.stored_bytes()
        for number in SECRET_NUMBERS:
            self.assertNotIn(number.encode(), stored)


if __name__ == "__main__":
    unittest.main()
