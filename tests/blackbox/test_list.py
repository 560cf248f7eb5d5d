"""GET /cash/v1/withdraw: filters, operators, cursor and limits (SPEC 2, docs/API.md)."""

import datetime
import time
import unittest
import urllib.parse

from cashtest import (ServerTestCase, WITHDRAWAL_FIELDS, iso_date, make_customer, parse_iso,
                      verify)

WITHDRAW = "/cash/v1/withdraw"
TOTALS = [10000, 11000, 12000, 13000, 14000]


class ListTest(ServerTestCase):
    """One customer with five withdrawals (the second one canceled), shared by the read-only
    tests of this class."""

    server_env = {"CASHD_VERIFICATION_MAX_USES": "100"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = make_customer(cls.server, balance=100000)
        client = cls.owner.client()
        verify(client, cls.server)
        cls.created = []
        for total in TOTALS:
            reply = client.withdraw(total)
            assert reply.status == 200, reply
            cls.created.append(reply.json)
            time.sleep(0.005)  # distinct creation milliseconds for the date filters
        canceled = client.post("%s/%s/cancel" % (WITHDRAW, cls.created[1]["withdrawId"]))
        assert canceled.status == 200, canceled
        cls.created[1] = canceled.json
        client.close()
        cls.newest_first = list(reversed(cls.created))

    def setUp(self):
        super().setUp()
        self.client = self.client_of(self.owner)

    def ids(self, reply):
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(list(reply.json.keys()), ["data", "nextKey"])
        return [w["withdrawId"] for w in reply.json["data"]]

    def query(self, query_string):
        return self.client.get(WITHDRAW + "?" + query_string)

    def expect(self, query_string, predicate):
        expected = [w["withdrawId"] for w in self.newest_first if predicate(w)]
        reply = self.query(query_string)
        self.assertEqual(self.ids(reply), expected, query_string)
        self.assertIsNone(reply.json["nextKey"])

    def test_all_newest_first(self):
        reply = self.client.get(WITHDRAW)
        self.assertEqual(self.ids(reply), [w["withdrawId"] for w in self.newest_first])
        self.assertIsNone(reply.json["nextKey"])
        for listed, created in zip(reply.json["data"], self.newest_first):
            self.assertEqual(list(listed.keys()), WITHDRAWAL_FIELDS)
            self.assertEqual(listed, created)

    def test_cursor_pages(self):
        first = self.query("limit=2")
        self.assertEqual(self.ids(first), [w["withdrawId"] for w in self.newest_first[:2]])
        self.assertEqual(first.json["nextKey"], self.newest_first[2]["withdrawId"])
        second = self.query("limit=2&startKey=" + first.json["nextKey"])
        self.assertEqual(self.ids(second), [w["withdrawId"] for w in self.newest_first[2:4]])
        third = self.query("limit=2&startKey=" + second.json["nextKey"])
        self.assertEqual(self.ids(third), [self.newest_first[4]["withdrawId"]])
        self.assertIsNone(third.json["nextKey"])

    def test_exact_page_has_no_next_key(self):
        reply = self.query("limit=5")
        self.assertEqual(len(self.ids(reply)), 5)
        self.assertIsNone(reply.json["nextKey"])

    def test_start_key_is_inclusive_and_need_not_exist(self):
        middle = self.newest_first[2]["withdrawId"]
        self.assertEqual(self.ids(self.query("startKey=" + middle)),
                         [w["withdrawId"] for w in self.newest_first[2:]])
        after_newest = str(int(self.newest_first[0]["withdrawId"]) + 1).zfill(32)
        self.assertEqual(len(self.ids(self.query("startKey=" + after_newest))), 5)

    def test_limit_bounds(self):
        self.assertEqual(len(self.ids(self.query("limit=1"))), 1)
        self.assertEqual(len(self.ids(self.query("limit=100"))), 5)
        for value in ("0", "101", "-1", "abc", "1.5", "", "99999999999999999999"):
            with self.subTest(limit=value):
                self.assert_error(self.query("limit=" + value), 400, "ValidationError",
                                  mentions="limit")

    def test_status_filters(self):
        self.expect("status=CANCELED", lambda w: w["status"] == "CANCELED")
        self.expect("status=PENDING", lambda w: w["status"] == "PENDING")
        self.expect("status[ne]=CANCELED", lambda w: w["status"] != "CANCELED")
        self.expect("status%5Bne%5D=PENDING", lambda w: w["status"] != "PENDING")
        self.expect("status=COMPLETED", lambda w: False)

    def test_withdraw_id_filters(self):
        target = self.newest_first[3]["withdrawId"]
        self.expect("withdrawId=" + target, lambda w: w["withdrawId"] == target)
        self.expect("withdrawId[ne]=" + target, lambda w: w["withdrawId"] != target)

    def test_number_operators(self):
        cases = [
            ("totalAmount[gte]=12000&totalAmount[lte]=12000",
             lambda w: w["totalAmount"] == 12000),
            ("totalAmount[gte]=12000", lambda w: w["totalAmount"] >= 12000),
            ("totalAmount[gt]=12000", lambda w: w["totalAmount"] > 12000),
            ("totalAmount[lte]=12000", lambda w: w["totalAmount"] <= 12000),
            ("totalAmount[lt]=12000", lambda w: w["totalAmount"] < 12000),
            ("totalAmount[ne]=12000", lambda w: w["totalAmount"] != 12000),
            ("amount[gte]=11400", lambda w: w["amount"] >= 11400),
            ("fee[lt]=1100", lambda w: w["fee"] < 1100),
            ("amount[gt]=9000&amount[lt]=12000", lambda w: 9000 < w["amount"] < 12000),
        ]
        for query_string, predicate in cases:
            with self.subTest(query=query_string):
                self.expect(query_string, predicate)

    def test_date_filters(self):
        third = self.created[2]["dateCreated"]
        moment = parse_iso(third)
        self.expect("startDate=" + third, lambda w: parse_iso(w["dateCreated"]) >= moment)
        self.expect("endDate=" + third, lambda w: parse_iso(w["dateCreated"]) <= moment)
        self.expect("startDate=%s&endDate=%s" % (third, third),
                    lambda w: w["dateCreated"] == third)
        self.expect("dateCreated[gt]=" + third, lambda w: parse_iso(w["dateCreated"]) > moment)
        self.expect("dateCreated[lte]=" + third, lambda w: parse_iso(w["dateCreated"]) <= moment)
        seoul = urllib.parse.quote(iso_date(moment, offset_minutes=540))
        self.expect("startDate=" + seoul, lambda w: parse_iso(w["dateCreated"]) >= moment)
        canceled_update = self.created[1]["dateUpdated"]
        self.expect("dateUpdated[gte]=" + canceled_update,
                    lambda w: parse_iso(w["dateUpdated"]) >= parse_iso(canceled_update))
        future = iso_date(datetime.datetime.now(datetime.timezone.utc)
                          + datetime.timedelta(days=1))
        self.expect("startDate=" + future, lambda w: False)

    def test_text_filters(self):
        self.expect("bankCode[ne]=004", lambda w: False)
        self.expect("bankCode[ne]=088", lambda w: True)
        self.expect("holderName[ne]=" + urllib.parse.quote("홍길동"), lambda w: False)
        self.expect("holderName[like]=" + urllib.parse.quote("길"), lambda w: True)
        self.expect("holderName[like]=zzz", lambda w: False)

    def test_combined_filters(self):
        self.expect("status=PENDING&totalAmount[gte]=11000&limit=100",
                    lambda w: w["status"] == "PENDING" and w["totalAmount"] >= 11000)

    def test_bad_parameters(self):
        cases = {
            "foo=1": "foo",
            "totalAmount=12000": "totalAmount",
            "status=WAITING": "status",
            "status=pending": "status",
            "status[gt]=PENDING": "status",
            "amount[like]=1": "amount",
            "amount[gte]=abc": "amount",
            "amount[gte]=1.5": "amount",
            "totalAmount[between]=1": "totalAmount",
            "holderName[gt]=a": "holderName",
            "bankCode[like]=0": "bankCode",
            "startDate=yesterday": "startDate",
            "endDate=2026-13-01T00:00:00Z": "endDate",
            "dateCreated[gte]=1700000000": "dateCreated",
            "withdrawId=123": "withdrawId",
            "startKey=abc": "startKey",
            "status=PENDING&status=CANCELED": "status",
            "limit=5&limit=5": "limit",
        }
        for query_string, name in cases.items():
            with self.subTest(query=query_string):
                self.assert_error(self.query(query_string), 400, "ValidationError",
                                  mentions=name)

    def test_too_many_parameters(self):
        query_string = "&".join("amount[ne]=%d" % i for i in range(40))
        self.assert_error(self.query(query_string), 400, "ValidationError")

    def test_default_limit_is_20(self):
        customer, client = self.new_client(balance=21 * 1000)
        self.verify(client)
        ids = []
        for _ in range(21):
            reply = client.withdraw(1000)
            self.assertEqual(reply.status, 200, reply)
            ids.append(reply.json["withdrawId"])
        ids.reverse()
        page = client.get(WITHDRAW)
        self.assertEqual(self.ids(page), ids[:20])
        self.assertEqual(page.json["nextKey"], ids[20])
        rest = client.get(WITHDRAW + "?startKey=" + page.json["nextKey"])
        self.assertEqual(self.ids(rest), ids[20:])
        self.assertIsNone(rest.json["nextKey"])
        self.assertEqual(client.balance(), 0)

    def test_another_account_sees_none_of_them(self):
        _, other = self.new_client(balance=0)
        reply = other.get(WITHDRAW)
        self.assertEqual(self.ids(reply), [])
        target = self.created[0]["withdrawId"]
        self.assertEqual(self.ids(other.get(WITHDRAW + "?withdrawId=" + target)), [])

    def test_numbers_in_the_list_are_masked(self):
        reply = self.client.get(WITHDRAW)
        self.assertNotIn(b"1234567890", reply.body)
        for withdrawal in reply.json["data"]:
            self.assertEqual(withdrawal["accountNumber"], "******7890")


if __name__ == "__main__":
    unittest.main()
