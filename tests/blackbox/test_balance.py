"""GET /cash/v1/balance and /cash/v1/balance/history (SPEC 2, 3; docs/API.md "Balance")."""

import datetime
import time
import unittest

from cashtest import (BALANCE_FIELDS, HISTORY_FIELDS, ISO_MS_UTC, ServerTestCase, iso_date,
                      parse_iso)

HISTORY = "/cash/v1/balance/history"


class BalanceTest(ServerTestCase):
    def test_balance_shape(self):
        customer, client = self.new_client(balance=81500)
        reply = client.get("/cash/v1/balance")
        self.assertEqual(reply.status, 200, reply)
        data = reply.json
        self.assertEqual([k for k in data.keys() if k != "lowBalanceAlert"], BALANCE_FIELDS)
        self.assertEqual(data["accountId"], customer.account_id)
        self.assertEqual(data["balance"], 81500)
        for field in BALANCE_FIELDS[1:]:
            self.assertIs(type(data[field]), int, field)
        self.assertEqual((data["point"], data["autoRecharge"], data["rechargeTryCount"]),
                         (0, 0, 0))

    def test_auto_recharge_flag(self):
        customer, client = self.new_client(balance=0)
        self.assertEqual(client.get("/cash/v1/balance").json["autoRecharge"], 0)
        self.server.ctl("account", "set", customer.account_id, "--auto-recharge", "on")
        self.assertEqual(client.get("/cash/v1/balance").json["autoRecharge"], 1)

    def test_new_account_has_zero_balance_and_no_history(self):
        customer, client = self.new_client(balance=0)
        self.assertEqual(client.balance(), 0)
        reply = client.get(HISTORY)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.json, {"offset": 0, "limit": 20, "data": []})

    def test_credits_accumulate(self):
        customer, client = self.new_client(balance=1000)
        self.server.ctl("balance", "credit", customer.account_id, "2345")
        self.assertEqual(client.balance(), 3345)

    def test_reads_are_allowed_to_developers(self):
        customer, client = self.new_client(balance=500, role="DEVELOPER")
        self.assertEqual(client.balance(), 500)
        self.assertEqual(len(client.history()), 1)


class HistoryTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.customer_, self.client = self.new_client(balance=0)
        self.amounts = [100, 200, 300]
        for amount in self.amounts:
            result = self.server.ctl("balance", "credit", self.customer_.account_id, amount,
                                     "--memo", "credit %d" % amount)
            self.assertEqual(result.code, 0, result)
            time.sleep(0.005)

    def test_entries_newest_first(self):
        reply = self.client.get(HISTORY)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(list(reply.json.keys()), ["offset", "limit", "data"])
        self.assertEqual((reply.json["offset"], reply.json["limit"]), (0, 20))
        data = reply.json["data"]
        self.assertEqual([entry["balanceAmount"] for entry in data], [300, 200, 100])
        running = [(0, 100), (100, 300), (300, 600)]
        for entry, (old, new) in zip(reversed(data), running):
            self.assertEqual(set(entry.keys()), set(HISTORY_FIELDS))
            self.assertEqual(entry["type"], "RECHARGE")
            self.assertEqual((entry["oldBalance"], entry["newBalance"]), (old, new))
            self.assertEqual(entry["accountId"], self.customer_.account_id)
            self.assertEqual(entry["memo"], "credit %d" % entry["balanceAmount"])
            self.assertIsNone(entry["groupId"])
            self.assertRegex(entry["historyId"], r"^\d{32}$")
            self.assertRegex(entry["dateCreated"], ISO_MS_UTC)
            for field in ("rechargeMethod", "serviceMethod", "chargedMethod", "paymentMethod"):
                self.assertTrue(entry[field] is None or isinstance(entry[field], str), field)
            for field in ("balanceAmount", "pointAmount", "oldBalance", "newBalance",
                          "oldPoint", "newPoint"):
                self.assertIs(type(entry[field]), int, field)
        self.assertEqual(self.client.balance(), 600)

    def test_offset_and_limit(self):
        reply = self.client.get(HISTORY, {"offset": 1, "limit": 1})
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual((reply.json["offset"], reply.json["limit"]), (1, 1))
        self.assertEqual([entry["balanceAmount"] for entry in reply.json["data"]], [200])
        self.assertEqual(self.client.get(HISTORY, {"offset": 3}).json["data"], [])
        self.assertEqual(len(self.client.get(HISTORY, {"limit": 100}).json["data"]), 3)

    def test_type_filter(self):
        self.assertEqual(len(self.client.history(type="RECHARGE")), 3)
        self.assertEqual(self.client.history(type="WITHDRAW"), [])
        self.assertEqual(self.client.history(type="WITHDRAW_REFUND"), [])

    def test_date_filters(self):
        entries = self.client.history()
        middle = entries[1]["dateCreated"]
        moment = parse_iso(middle)
        after = self.client.history(startDate=middle)
        self.assertEqual([e["balanceAmount"] for e in after],
                         [e["balanceAmount"] for e in entries if parse_iso(e["dateCreated"])
                          >= moment])
        before = self.client.history(endDate=middle)
        self.assertEqual([e["balanceAmount"] for e in before],
                         [e["balanceAmount"] for e in entries if parse_iso(e["dateCreated"])
                          <= moment])
        self.assertIn(200, [e["balanceAmount"] for e in after])
        self.assertIn(200, [e["balanceAmount"] for e in before])
        seoul = iso_date(moment, offset_minutes=540)
        self.assertEqual(len(self.client.history(startDate=seoul)), len(after))
        tomorrow = iso_date(datetime.datetime.now(datetime.timezone.utc)
                            + datetime.timedelta(days=1))
        self.assertEqual(self.client.history(startDate=tomorrow), [])

    def test_bad_parameters(self):
        cases = {
            "offset=-1": "offset",
            "offset=abc": "offset",
            "offset=1.5": "offset",
            "limit=0": "limit",
            "limit=101": "limit",
            "limit=": "limit",
            "type=BONUS": "type",
            "type=recharge": "type",
            "startDate=yesterday": "startDate",
            "endDate=2026-02-30T00:00:00Z": "endDate",
            "page=2": "page",
            "limit=5&limit=6": "limit",
        }
        for query_string, name in cases.items():
            with self.subTest(query=query_string):
                self.assert_error(self.client.get(HISTORY + "?" + query_string), 400,
                                  "ValidationError", mentions=name)

    def test_default_limit_is_20(self):
        for amount in range(1, 19):  # 3 + 18 = 21 entries
            self.server.ctl("balance", "credit", self.customer_.account_id, amount)
        reply = self.client.get(HISTORY)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(len(reply.json["data"]), 20)
        self.assertEqual(reply.json["data"][0]["balanceAmount"], 18)
        rest = self.client.get(HISTORY, {"offset": 20})
        self.assertEqual([e["balanceAmount"] for e in rest.json["data"]], [100])

    def test_another_accounts_history_is_not_shown(self):
        _, other = self.new_client(balance=777)
        entries = other.history()
        self.assertEqual([e["balanceAmount"] for e in entries], [777])


if __name__ == "__main__":
    unittest.main()
