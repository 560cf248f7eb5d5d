"""POST /cash/v1/withdraw, quote, get and cancel (SPEC 1, 3, 5; docs/API.md "Withdrawals")."""

import datetime
import json
import secrets
import time
import unittest

from cashtest import (ServerTestCase, WITHDRAWAL_FIELDS, add_member, fee_of, parse_iso,
                      snapshot)

WITHDRAW = "/cash/v1/withdraw"


class WithdrawTest(ServerTestCase):
    def assert_new_withdrawal(self, reply, customer, total, amount, fee):
        self.assertEqual(reply.status, 200, reply)
        withdrawal = reply.json
        self.assert_withdrawal_shape(withdrawal, customer)
        self.assertEqual((withdrawal["amount"], withdrawal["fee"], withdrawal["totalAmount"]),
                         (amount, fee, total))
        self.assertEqual(withdrawal["status"], "PENDING")
        self.assertIs(withdrawal["isProcessing"], False)
        self.assertEqual(withdrawal["confirmedCount"], 0)
        for field in ("memo", "transactionId", "transactionDate"):
            self.assertIsNone(withdrawal[field], field)
        self.assertEqual(withdrawal["bankCode"], "004")
        self.assertEqual(withdrawal["accountNumber"], "******7890")
        self.assertEqual(withdrawal["holderName"], "홍길동")
        self.assertEqual(withdrawal["dateCreated"], withdrawal["dateUpdated"])
        created = parse_iso(withdrawal["dateCreated"])
        confirmed = parse_iso(withdrawal["dateConfirmed"])
        self.assertLessEqual(confirmed, created)
        self.assertLess(created - confirmed, datetime.timedelta(minutes=5))
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - created).total_seconds()), 300)
        return withdrawal

    def test_seed_sample_a_with_auto_recharge(self):
        """Sample A ("when auto-recharge is configured"): 20000 -> 18500 + fee 1500. Auto-recharge
        stays on and is never triggered by the withdrawal, even when the balance reaches 0."""
        customer, client = self.new_client(balance=20000, auto_recharge="on")
        self.assertEqual(client.get("/cash/v1/balance").json["autoRecharge"], 1)
        verification_id = self.verify(client)
        reply = client.withdraw(20000)
        withdrawal = self.assert_new_withdrawal(reply, customer, 20000, 18500, 1500)
        self.assertEqual(list(json.loads(reply.body).keys()), WITHDRAWAL_FIELDS)
        balance = client.get("/cash/v1/balance").json
        self.assertEqual(balance["balance"], 0, "not recharged")
        self.assertEqual(balance["autoRecharge"], 1, "auto-recharge stays on")
        self.assertEqual(balance["rechargeTryCount"], 0)
        types = [entry["type"] for entry in client.history()]
        self.assertEqual(types, ["WITHDRAW", "RECHARGE"], "no recharge entry after the withdrawal")
        self.assertEqual(client.get("/cash/v1/verifications/%s" % verification_id)
                         .json["usesLeft"], 0)
        self.assertEqual(withdrawal["totalAmount"], 20000)

    def test_seed_sample_b(self):
        customer, client = self.new_client(balance=50000)
        verification_id = self.verify(client)
        reply = client.withdraw(10000)
        withdrawal = self.assert_new_withdrawal(reply, customer, 10000, 9000, 1000)
        self.assertEqual(list(json.loads(reply.body).keys()), WITHDRAWAL_FIELDS)
        self.assertEqual(client.balance(), 40000)
        # dateConfirmed: the moment the verification was confirmed, in whole seconds
        confirmed = client.get("/cash/v1/verifications/%s" % verification_id).json
        self.assertEqual(withdrawal["dateConfirmed"], confirmed["dateConfirmed"][:19] + ".000Z")

    def test_fee_rounds_up(self):
        customer, client = self.new_client(balance=100000)
        for total in (1000, 1001, 12345, 20019):
            with self.subTest(total=total):
                self.verify(client)
                fee = fee_of(total)
                self.assert_new_withdrawal(client.withdraw(total), customer, total, total - fee,
                                           fee)
        self.assertEqual(client.balance(), 100000 - 1000 - 1001 - 12345 - 20019)

    def test_get_answers_the_same_withdrawal(self):
        customer, client = self.new_client(balance=30000)
        self.verify(client)
        created = client.withdraw(20000)
        self.assertEqual(created.status, 200, created)
        fetched = client.get("%s/%s" % (WITHDRAW, created.json["withdrawId"]))
        self.assertEqual(fetched.status, 200, fetched)
        self.assertEqual(list(fetched.json.keys()), WITHDRAWAL_FIELDS)
        self.assertEqual(fetched.json, created.json)

    def test_history_entries(self):
        customer, client = self.new_client(balance=100000)
        self.verify(client)
        withdrawal = client.withdraw(20000).json
        canceled = client.post("%s/%s/cancel" % (WITHDRAW, withdrawal["withdrawId"]))
        self.assertEqual(canceled.status, 200, canceled)
        history = client.history()
        self.assertEqual([entry["type"] for entry in history],
                         ["WITHDRAW_REFUND", "WITHDRAW", "RECHARGE"])
        refund, debit, recharge = history
        self.assertEqual((recharge["balanceAmount"], recharge["oldBalance"],
                          recharge["newBalance"]), (100000, 0, 100000))
        self.assertIsNone(recharge["groupId"])
        self.assertEqual(recharge["memo"], "test recharge")
        self.assertEqual((debit["balanceAmount"], debit["oldBalance"], debit["newBalance"]),
                         (-20000, 100000, 80000))
        self.assertEqual(debit["groupId"], withdrawal["withdrawId"])
        self.assertEqual((refund["balanceAmount"], refund["oldBalance"], refund["newBalance"]),
                         (20000, 80000, 100000))
        self.assertEqual(refund["groupId"], withdrawal["withdrawId"])
        for entry in history:
            self.assertEqual(entry["accountId"], customer.account_id)
            self.assertEqual((entry["pointAmount"], entry["oldPoint"], entry["newPoint"]),
                             (0, 0, 0))
            self.assertRegex(entry["historyId"], r"^\d{32}$")
        self.assertGreater(refund["historyId"], debit["historyId"])
        self.assertGreater(debit["historyId"], recharge["historyId"])

    def test_not_enough_balance(self):
        customer, client = self.new_client(balance=19999)
        verification_id = self.verify(client)
        before = snapshot(client)
        self.assert_error(client.withdraw(20000), 400, "NotEnoughBalance")
        self.assertEqual(snapshot(client), before)
        # the verification was not spent: the exact balance can still be withdrawn
        reply = client.withdraw(19999, verification_id)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(client.balance(), 0)
        self.verify(client)
        self.assert_error(client.withdraw(1000), 400, "NotEnoughBalance")

    def test_bank_account_not_registered(self):
        customer, client = self.new_client(balance=50000, bank=False)
        verification_id = self.verify(client)
        before = snapshot(client)
        self.assert_error(client.withdraw(20000), 400, "BankAccountNotRegistered")
        self.assertEqual(snapshot(client), before)
        self.server.ctl("bank", "set", customer.account_id, "--bank-code", "004", "--number",
                        "123-456-7890", "--holder", "홍길동")
        self.assertEqual(client.withdraw(20000, verification_id).status, 200)

    def test_the_bank_account_is_copied(self):
        customer, client = self.new_client(balance=50000)
        self.verify(client)
        first = client.withdraw(20000).json
        self.server.ctl("bank", "set", customer.account_id, "--bank-code", "088", "--number",
                        "110-555-000111", "--holder", "Lee")
        again = client.get("%s/%s" % (WITHDRAW, first["withdrawId"])).json
        self.assertEqual((again["bankCode"], again["accountNumber"], again["holderName"]),
                         ("004", "******7890", "홍길동"))
        self.verify(client)
        second = client.withdraw(10000).json
        self.assertEqual((second["bankCode"], second["accountNumber"], second["holderName"]),
                         ("088", "******0111", "Lee"))

    def test_second_factor_required(self):
        customer, client = self.new_client(balance=50000)
        before = snapshot(client)
        self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")
        pending = client.create_verification().json["verificationId"]
        self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")
        self.assert_error(client.withdraw(20000, pending), 403, "SecondFactorRequired")
        self.assertEqual(snapshot(client), before)

    def test_a_verification_authorises_one_withdrawal(self):
        customer, client = self.new_client(balance=50000)
        verification_id = self.verify(client)
        self.assertEqual(client.withdraw(10000).status, 200)
        before = snapshot(client)
        self.assert_error(client.withdraw(10000), 403, "SecondFactorRequired")
        self.assert_error(client.withdraw(10000, verification_id), 403, "SecondFactorRequired")
        self.assertEqual(snapshot(client), before)
        spent = client.get("/cash/v1/verifications/%s" % verification_id).json
        self.assertEqual(spent["usesLeft"], 0)

    def test_x_verification_id_names_the_one_spent(self):
        customer, client = self.new_client(balance=50000)
        older = self.verify(client)
        newer = self.verify(client)
        self.assertEqual(client.withdraw(10000, newer).status, 200)
        self.assertEqual(client.get("/cash/v1/verifications/%s" % newer).json["usesLeft"], 0)
        self.assertEqual(client.get("/cash/v1/verifications/%s" % older).json["usesLeft"], 1)
        self.assertEqual(client.withdraw(10000, older).status, 200)

    def test_without_the_header_the_oldest_usable_is_spent(self):
        customer, client = self.new_client(balance=50000)
        older = self.verify(client)
        newer = self.verify(client)
        self.assertEqual(client.withdraw(10000).status, 200)
        self.assertEqual(client.get("/cash/v1/verifications/%s" % older).json["usesLeft"], 0)
        self.assertEqual(client.get("/cash/v1/verifications/%s" % newer).json["usesLeft"], 1)

    def test_another_members_or_an_unknown_verification_is_refused(self):
        customer, client = self.new_client(balance=50000)
        other, other_client = self.new_client(balance=50000)
        others = self.verify(other_client)
        before = snapshot(client)
        self.assert_error(client.withdraw(10000, others), 403, "SecondFactorRequired")
        unknown = str(int(time.time() * 1000)) + "".join(secrets.choice("0123456789")
                                                        for _ in range(19))
        self.assert_error(client.withdraw(10000, unknown), 403, "SecondFactorRequired")
        self.assertEqual(snapshot(client), before)
        # the other member's verification was not spent by the refused attempt
        self.assertEqual(other_client.withdraw(10000, others).status, 200)

    def test_a_member_of_the_same_account_cannot_use_anothers_verification(self):
        customer, client = self.new_client(balance=50000)
        colleague = add_member(self.server, customer.account_id)
        colleague_client = self.client_of(colleague)
        mine = self.verify(client)
        self.assert_error(colleague_client.withdraw(10000, mine), 403, "SecondFactorRequired")
        self.assert_error(colleague_client.withdraw(10000), 403, "SecondFactorRequired")
        self.assertEqual(client.withdraw(10000, mine).status, 200)

    def test_malformed_amounts(self):
        customer, client = self.new_client(balance=100000000)
        verification_id = self.verify(client)
        before = snapshot(client)
        bodies = {
            "fraction": '{"amount": 1.5}',
            "integral float": '{"amount": 20000.0}',
            "exponent": '{"amount": 2e4}',
            "string": '{"amount": "20000"}',
            "true": '{"amount": true}',
            "null": '{"amount": null}',
            "negative": '{"amount": -1}',
            "zero": '{"amount": 0}',
            "below minimum": '{"amount": 999}',
            "above maximum": '{"amount": 50000001}',
            "object": '{"amount": {"value": 20000}}',
            "array": '{"amount": [20000]}',
        }
        for name, body in bodies.items():
            with self.subTest(name=name):
                self.assert_error(client.post(WITHDRAW, body), 400, "ValidationError",
                                  mentions="amount")
        self.assert_error(client.post(WITHDRAW, "{}"), 400, "ValidationError", mentions="amount")
        self.assert_error(client.post(WITHDRAW, '{"amount": 20000, "memo": "x"}'), 400,
                          "ValidationError", mentions="memo")
        huge = client.post(WITHDRAW, '{"amount": 123456789012345678901234567890}')
        self.assertEqual(huge.status, 400, huge)
        self.assertIn(huge.error_code, ("ValidationError", "InvalidJSON"))
        self.assertEqual(snapshot(client), before)
        self.assertEqual(client.withdraw(1000, verification_id).status, 200,
                         "validation errors do not spend the verification")

    def test_bounds_are_inclusive(self):
        customer, client = self.new_client(balance=60000000)
        for total in (1000, 50000000):
            with self.subTest(total=total):
                self.verify(client)
                reply = client.withdraw(total)
                self.assertEqual(reply.status, 200, reply)
        self.assertEqual(client.balance(), 60000000 - 1000 - 50000000)

    def test_cancel_refunds_and_cannot_repeat(self):
        customer, client = self.new_client(balance=30000)
        self.verify(client)
        created = client.withdraw(20000).json
        self.assertEqual(client.balance(), 10000)
        time.sleep(0.01)
        reply = client.post("%s/%s/cancel" % (WITHDRAW, created["withdrawId"]))
        self.assertEqual(reply.status, 200, reply)
        canceled = reply.json
        self.assert_withdrawal_shape(canceled, customer)
        self.assertEqual(canceled["status"], "CANCELED")
        self.assertEqual(canceled["withdrawId"], created["withdrawId"])
        self.assertGreater(parse_iso(canceled["dateUpdated"]), parse_iso(created["dateUpdated"]))
        for field in ("dateCreated", "dateConfirmed", "amount", "fee", "totalAmount",
                      "accountNumber", "bankCode", "holderName"):
            self.assertEqual(canceled[field], created[field], field)
        self.assertEqual(client.balance(), 30000)
        before = snapshot(client)
        self.assert_error(client.post("%s/%s/cancel" % (WITHDRAW, created["withdrawId"])), 409,
                          "InvalidStatus")
        self.assertEqual(snapshot(client), before)
        self.assertEqual(client.get("%s/%s" % (WITHDRAW, created["withdrawId"])).json["status"],
                         "CANCELED")

    def test_cancel_needs_no_second_factor_but_write_permission(self):
        customer, client = self.new_client(balance=30000)
        self.verify(client)
        created = client.withdraw(20000).json
        developer = self.client_of(add_member(self.server, customer.account_id,
                                              role="DEVELOPER"))
        path = "%s/%s/cancel" % (WITHDRAW, created["withdrawId"])
        self.assert_error(developer.post(path), 403, "MissingMemberPermission")
        self.assertEqual(developer.get("%s/%s" % (WITHDRAW, created["withdrawId"])).status, 200)
        self.assertEqual(client.post(path).status, 200)

    def test_another_accounts_withdrawal_is_not_found(self):
        customer, client = self.new_client(balance=30000)
        self.verify(client)
        created = client.withdraw(20000).json
        other, other_client = self.new_client(balance=5000)
        path = "%s/%s" % (WITHDRAW, created["withdrawId"])
        other_before = snapshot(other_client)
        self.assert_error(other_client.get(path), 404, "NotFound")
        self.assert_error(other_client.post(path + "/cancel"), 404, "NotFound")
        self.assertEqual(snapshot(other_client), other_before)
        self.assertEqual(client.get(path).json["status"], "PENDING")
        self.assertEqual(client.balance(), 10000)

    def test_unknown_and_malformed_ids_are_not_found(self):
        customer, client = self.new_client(balance=0)
        for withdraw_id in ("9" * 32, "1234", "x" * 32, "1" * 33):
            with self.subTest(withdraw_id=withdraw_id):
                self.assert_error(client.get("%s/%s" % (WITHDRAW, withdraw_id)), 404, "NotFound")
                self.assert_error(client.post("%s/%s/cancel" % (WITHDRAW, withdraw_id)), 404,
                                  "NotFound")

    def test_cashctl_lists_the_withdrawals(self):
        customer, client = self.new_client(balance=50000)
        self.verify(client)
        first = client.withdraw(10000).json["withdrawId"]
        self.verify(client)
        second = client.withdraw(12000).json["withdrawId"]
        client.post("%s/%s/cancel" % (WITHDRAW, first))
        listed = self.server.ctl("withdraw", "list", "--account", customer.account_id)
        self.assertEqual(listed.code, 0, listed)
        self.assertEqual(listed.lines, [second, first])
        pending = self.server.ctl("withdraw", "list", "--account", customer.account_id,
                                  "--status", "PENDING")
        self.assertEqual(pending.lines, [second])
        everything = self.server.ctl("withdraw", "list")
        self.assertIn(first, everything.lines)
        as_json = self.server.ctl("--json", "withdraw", "list", "--account", customer.account_id)
        items = as_json.json()
        self.assertEqual([item["withdrawId"] for item in items], [second, first])
        self.assertEqual(list(items[0].keys()), WITHDRAWAL_FIELDS)
        self.assertEqual(items[1]["status"], "CANCELED")
        for item in items:  # cashctl shows a withdrawal exactly as the API does
            self.assertEqual(item, client.get("%s/%s" % (WITHDRAW, item["withdrawId"])).json)


class QuoteTest(ServerTestCase):
    def test_quotes(self):
        customer, client = self.new_client(balance=0)
        for total, fee in ((20000, 1500), (10000, 1000), (1000, 550), (1001, 551),
                           (50000000, 2500500)):
            with self.subTest(total=total):
                reply = client.get("/cash/v1/withdraw/quote", {"amount": total})
                self.assertEqual(reply.status, 200, reply)
                self.assertEqual(reply.json, {"totalAmount": total, "fee": fee,
                                              "amount": total - fee})
        self.assertEqual(client.balance(), 0)
        self.assertEqual(client.history(), [])

    def test_quote_validation(self):
        customer, client = self.new_client(balance=0)
        for value in ("abc", "1.5", "20000.0", "-1", "0", "999", "50000001", "", "1e4",
                      "99999999999999999999999"):
            with self.subTest(value=value):
                self.assert_error(client.get("/cash/v1/withdraw/quote", {"amount": value}), 400,
                                  "ValidationError", mentions="amount")
        self.assert_error(client.get("/cash/v1/withdraw/quote"), 400, "ValidationError",
                          mentions="amount")
        self.assert_error(client.get("/cash/v1/withdraw/quote?amount=20000&fee=1"), 400,
                          "ValidationError", mentions="fee")
        self.assert_error(client.get("/cash/v1/withdraw/quote?amount=20000&amount=20000"), 400,
                          "ValidationError")

    def test_quote_is_a_read(self):
        customer, client = self.new_client(balance=0, role="DEVELOPER", verified="none")
        self.assertEqual(client.get("/cash/v1/withdraw/quote?amount=20000").status, 200)


class ConfiguredFeeTest(ServerTestCase):
    server_env = {"CASHD_FEE_FIXED": "5000", "CASHD_FEE_RATE_BP": "1000",
                  "CASHD_MIN_WITHDRAW": "100", "CASHD_MAX_WITHDRAW": "90000"}

    def test_configured_fee_and_limits(self):
        customer, client = self.new_client(balance=200000)
        reply = client.get("/cash/v1/withdraw/quote?amount=20000")
        self.assertEqual(reply.json, {"totalAmount": 20000, "fee": 7000, "amount": 13000})
        self.verify(client)
        withdrawal = client.withdraw(20000)
        self.assertEqual(withdrawal.status, 200, withdrawal)
        self.assertEqual((withdrawal.json["amount"], withdrawal.json["fee"]), (13000, 7000))
        self.assert_error(client.withdraw(90001), 400, "ValidationError", mentions="amount")

    def test_net_amount_below_one_won(self):
        """5556 -> fee ceil(555.6) + 5000 = 5556: nothing would reach the bank account."""
        customer, client = self.new_client(balance=200000)
        verification_id = self.verify(client)
        before = snapshot(client)
        for total in (100, 5000, 5556):
            with self.subTest(total=total):
                self.assert_error(client.withdraw(total), 400, "ValidationError",
                                  mentions="amount")
                self.assert_error(client.get("/cash/v1/withdraw/quote?amount=%d" % total), 400,
                                  "ValidationError", mentions="amount")
        self.assertEqual(snapshot(client), before)
        reply = client.withdraw(5557, verification_id)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual((reply.json["amount"], reply.json["fee"]), (1, 5556))


class DailyLimitTest(ServerTestCase):
    server_env = {"CASHD_DAILY_LIMIT": "30000", "CASHD_VERIFICATION_MAX_USES": "10"}

    def test_daily_limit_counts_live_withdrawals(self):
        customer, client = self.new_client(balance=100000)
        self.verify(client)
        first = client.withdraw(20000)
        self.assertEqual(first.status, 200, first)
        before = snapshot(client)
        self.assert_error(client.withdraw(10001), 400, "DailyLimitExceeded")
        self.assertEqual(snapshot(client), before)
        self.assertEqual(client.withdraw(10000).status, 200, "exactly the limit is allowed")
        self.assert_error(client.withdraw(1000), 400, "DailyLimitExceeded")
        # a canceled withdrawal no longer counts
        cancel = client.post("%s/%s/cancel" % (WITHDRAW, first.json["withdrawId"]))
        self.assertEqual(cancel.status, 200, cancel)
        self.assertEqual(client.withdraw(20000).status, 200)
        self.assertEqual(client.balance(), 100000 - 30000)

    def test_the_limit_is_per_account(self):
        _, client = self.new_client(balance=100000)
        _, other = self.new_client(balance=100000)
        self.verify(client)
        self.verify(other)
        self.assertEqual(client.withdraw(30000).status, 200)
        self.assertEqual(other.withdraw(30000).status, 200)

    def test_the_limit_is_checked_before_the_balance(self):
        _, client = self.new_client(balance=1000)
        self.verify(client)
        self.assert_error(client.withdraw(40000), 400, "DailyLimitExceeded")
        self.assert_error(client.withdraw(30000), 400, "NotEnoughBalance")


class VerificationUsesTest(ServerTestCase):
    server_env = {"CASHD_VERIFICATION_MAX_USES": "2"}

    def test_max_uses_two(self):
        customer, client = self.new_client(balance=100000)
        verification_id = self.verify(client)
        state = client.get("/cash/v1/verifications/%s" % verification_id).json
        self.assertEqual(state["usesLeft"], 2)
        self.assertEqual(client.withdraw(10000).status, 200)
        self.assertEqual(client.get("/cash/v1/verifications/%s" % verification_id)
                         .json["usesLeft"], 1)
        self.assertEqual(client.withdraw(10000, verification_id).status, 200)
        before = snapshot(client)
        self.assert_error(client.withdraw(10000), 403, "SecondFactorRequired")
        self.assertEqual(snapshot(client), before)
        state = client.get("/cash/v1/verifications/%s" % verification_id).json
        self.assertEqual((state["usesLeft"], state["status"]), (0, "EXPIRED"))

    def test_a_refused_withdrawal_does_not_spend_a_use(self):
        customer, client = self.new_client(balance=15000)
        verification_id = self.verify(client)
        self.assert_error(client.withdraw(20000), 400, "NotEnoughBalance")
        self.assertEqual(client.get("/cash/v1/verifications/%s" % verification_id)
                         .json["usesLeft"], 2)


if __name__ == "__main__":
    unittest.main()
