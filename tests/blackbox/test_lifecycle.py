"""The life of a withdrawal after PENDING (SPEC 4, 6): `cashctl withdraw confirm/reject/show`,
what the API shows afterwards, the two-operator threshold, refunds, the event history, races
between the operator and the account, and every malformed argument of the new commands."""

import threading
import unittest

from cashtest import ServerTestCase, parse_iso, run_ctl

WITHDRAW = "/cash/v1/withdraw"
DUAL_AT = 15000  # totals from this amount need two operators in this class


class LifecycleTest(ServerTestCase):
    server_env = {"CASHD_DUAL_CONFIRM_AT": str(DUAL_AT)}

    def ctl(self, *args):
        return run_ctl(self.server.db, *args, env={"CASHD_DUAL_CONFIRM_AT": str(DUAL_AT)})

    def ok(self, *args):
        result = self.ctl(*args)
        self.assertEqual(result.code, 0, result)
        self.assertEqual(result.err, "", result)
        return result

    def fails(self, args, code, mentions=None):
        result = self.ctl(*args)
        self.assertEqual(result.code, code, result)
        self.assertEqual(result.out, "", result)
        lines = result.err.splitlines()
        self.assertEqual(len(lines), 1, result)
        self.assertTrue(lines[0].startswith("cashctl: "), result)
        if mentions is not None:
            self.assertIn(mentions, lines[0], result)
        return result

    def pending(self, total, balance=100000):
        """A customer's client and a new PENDING withdrawal of total."""
        customer, client = self.new_client(balance=balance)
        self.verify(client)
        reply = client.withdraw(total)
        self.assertEqual(reply.status, 200, reply)
        return client, reply.json

    def get(self, client, withdraw_id):
        reply = client.get("%s/%s" % (WITHDRAW, withdraw_id))
        self.assertEqual(reply.status, 200, reply)
        return reply.json

    def show(self, withdraw_id):
        return self.ok("--json", "withdraw", "show", withdraw_id).json()

    def test_one_operator_confirms_below_the_threshold(self):
        client, created = self.pending(10000)
        withdraw_id = created["withdrawId"]
        out = self.ok("withdraw", "confirm", withdraw_id, "--operator", "kim").out
        self.assertEqual(out, "%s CONFIRMED 1\n" % withdraw_id)
        seen = self.get(client, withdraw_id)
        self.assertEqual(seen["status"], "CONFIRMED")
        self.assertEqual(seen["confirmedCount"], 1)
        self.assertIs(seen["isProcessing"], False)
        self.assertGreaterEqual(parse_iso(seen["dateUpdated"]), parse_iso(created["dateUpdated"]))
        # a CONFIRMED withdrawal not yet processing can still be canceled, with its refund
        canceled = client.post("%s/%s/cancel" % (WITHDRAW, withdraw_id))
        self.assertEqual(canceled.status, 200, canceled)
        self.assertEqual(canceled.json["status"], "CANCELED")
        self.assertEqual(client.balance(), 100000)
        events = self.show(withdraw_id)["events"]
        self.assertEqual([(e["from"], e["to"]) for e in events],
                         [(None, "PENDING"), ("PENDING", "CONFIRMED"), ("CONFIRMED", "CANCELED")])
        self.assertEqual(events[1]["actor"], "operator:kim")
        self.assertTrue(events[2]["actor"].startswith("account:"))
        self.assertEqual([e["seq"] for e in events], [1, 2, 3])

    def test_two_distinct_operators_from_the_threshold(self):
        client, created = self.pending(DUAL_AT)
        withdraw_id = created["withdrawId"]
        self.assertEqual(self.ok("withdraw", "confirm", withdraw_id, "--operator", "kim").out,
                         "%s PENDING 1\n" % withdraw_id)
        self.assertEqual(self.ok("withdraw", "confirm", withdraw_id, "--operator", "kim").out,
                         "%s PENDING 1\n" % withdraw_id, "the same operator counts once")
        self.assertEqual(self.get(client, withdraw_id)["confirmedCount"], 1)
        confirmed = self.ok("--json", "withdraw", "confirm", withdraw_id, "--operator",
                            "lee").json()
        self.assertEqual((confirmed["status"], confirmed["confirmedCount"]), ("CONFIRMED", 2))
        self.fails(["withdraw", "confirm", withdraw_id, "--operator", "park"], 1,
                   mentions="cannot be confirmed")
        seen = self.get(client, withdraw_id)
        self.assertEqual((seen["status"], seen["confirmedCount"]), ("CONFIRMED", 2))
        memos = [e["memo"] for e in self.show(withdraw_id)["events"]]
        self.assertEqual(memos, [None, "confirmation 1 of 2", "confirmation 2 of 2"])

    def test_reject_refunds_the_total_once(self):
        client, created = self.pending(20000)
        withdraw_id = created["withdrawId"]
        self.assertEqual(client.balance(), 80000)
        out = self.ok("withdraw", "reject", withdraw_id, "--memo", "예금주 불일치",
                      "--operator", "lee").out
        self.assertEqual(out, "%s REJECTED 0\n" % withdraw_id)
        seen = self.get(client, withdraw_id)
        self.assertEqual(seen["status"], "REJECTED")
        self.assertEqual(seen["memo"], "예금주 불일치")
        self.assertEqual(client.balance(), 100000)
        refunds = [e for e in client.history() if e["type"] == "WITHDRAW_REFUND"]
        self.assertEqual(len(refunds), 1)
        self.assertEqual(refunds[0]["balanceAmount"], 20000)
        self.assertEqual(refunds[0]["groupId"], withdraw_id)
        # nothing moves out of REJECTED
        self.fails(["withdraw", "reject", withdraw_id, "--memo", "again"], 1,
                   mentions="cannot be rejected")
        self.fails(["withdraw", "confirm", withdraw_id, "--operator", "kim"], 1,
                   mentions="cannot be confirmed")
        self.assert_error(client.post("%s/%s/cancel" % (WITHDRAW, withdraw_id)), 409,
                          "InvalidStatus")
        self.assertEqual(client.balance(), 100000)
        self.ok("ledger", "verify")

    def test_reject_a_confirmed_one(self):
        client, created = self.pending(10000)
        withdraw_id = created["withdrawId"]
        self.ok("withdraw", "confirm", withdraw_id, "--operator", "kim")
        rejected = self.ok("--json", "withdraw", "reject", withdraw_id, "--memo", "risk").json()
        self.assertEqual(rejected["status"], "REJECTED")
        self.assertEqual(rejected["confirmedCount"], 1)
        self.assertEqual(client.balance(), 100000)
        events = self.show(withdraw_id)["events"]
        self.assertEqual(events[-1]["from"], "CONFIRMED")
        self.assertEqual(events[-1]["to"], "REJECTED")
        self.assertEqual(events[-1]["memo"], "risk")

    def test_show(self):
        client, created = self.pending(10000)
        withdraw_id = created["withdrawId"]
        shown = self.show(withdraw_id)
        self.assertEqual(shown["withdrawal"], self.get(client, withdraw_id))
        self.assertEqual(len(shown["events"]), 1)
        self.assertTrue(shown["events"][0]["actor"].startswith("member:"))
        text = self.ok("withdraw", "show", withdraw_id).out.splitlines()
        self.assertTrue(text[0].startswith(withdraw_id + " PENDING"), text)
        self.assertEqual(len(text), 2, text)

    def test_reject_races_the_cancel(self):
        """The operator's reject and the account's cancel at once: exactly one wins, one refund."""
        for _ in range(4):
            client, created = self.pending(10000)
            withdraw_id = created["withdrawId"]
            results = {}

            def operator():
                results["reject"] = self.ctl("withdraw", "reject", withdraw_id, "--memo", "race")

            def account():
                results["cancel"] = client.post("%s/%s/cancel" % (WITHDRAW, withdraw_id))

            threads = [threading.Thread(target=operator), threading.Thread(target=account)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rejected = results["reject"].code == 0
            canceled = results["cancel"].status == 200
            self.assertTrue(rejected != canceled, results)
            if not canceled:
                self.assertEqual(results["cancel"].json["errorCode"], "InvalidStatus")
            self.assertEqual(client.balance(), 100000)
            refunds = [e for e in client.history() if e["type"] == "WITHDRAW_REFUND"]
            self.assertEqual(len(refunds), 1)
            self.assertEqual(self.get(client, withdraw_id)["status"],
                             "REJECTED" if rejected else "CANCELED")

    def test_confirm_races_the_cancel(self):
        """The cancel always ends it; a confirm that came first is kept in the history."""
        for _ in range(4):
            client, created = self.pending(10000)
            withdraw_id = created["withdrawId"]
            results = {}

            def operator():
                results["confirm"] = self.ctl("withdraw", "confirm", withdraw_id, "--operator",
                                              "kim")

            def account():
                results["cancel"] = client.post("%s/%s/cancel" % (WITHDRAW, withdraw_id))

            threads = [threading.Thread(target=operator), threading.Thread(target=account)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            self.assertEqual(results["cancel"].status, 200, results)
            self.assertIn(results["confirm"].code, (0, 1), results)
            seen = self.get(client, withdraw_id)
            self.assertEqual(seen["status"], "CANCELED")
            self.assertEqual(seen["confirmedCount"], 1 if results["confirm"].code == 0 else 0)
            self.assertEqual(client.balance(), 100000)

    def test_malformed_arguments(self):
        client, created = self.pending(10000)
        withdraw_id = created["withdrawId"]
        for bad_id in ["1" * 31, "1" * 33, "a" * 32, "", "-1", "1" * 31 + "x"]:
            self.fails(["withdraw", "confirm", bad_id, "--operator", "kim"], 2,
                       mentions="withdrawal id")
            self.fails(["withdraw", "reject", bad_id, "--memo", "x"], 2, mentions="withdrawal id")
            self.fails(["withdraw", "show", bad_id], 2, mentions="withdrawal id")
        self.fails(["withdraw", "confirm", withdraw_id], 2, mentions="--operator")
        self.fails(["withdraw", "reject", withdraw_id], 2, mentions="--memo")
        for name in ["", "a b", "kim;", "김", "x" * 65, "tab\there"]:
            self.fails(["withdraw", "confirm", withdraw_id, "--operator", name], 2,
                       mentions="--operator")
            self.fails(["withdraw", "reject", withdraw_id, "--memo", "m", "--operator", name], 2,
                       mentions="--operator")
        for memo in ["", "   ", "two\nlines", "m" * 501, "bell\a"]:
            self.fails(["withdraw", "reject", withdraw_id, "--memo", memo], 2, mentions="--memo")
        self.ok("withdraw", "reject", withdraw_id, "--memo", "m" * 500)
        self.fails(["withdraw", "confirm", withdraw_id, "--operator", "kim", "extra"], 2)
        self.fails(["withdraw", "show", withdraw_id, "--operator", "kim"], 2)
        self.fails(["withdraw", "confirm", withdraw_id, "--memo", "x", "--operator", "kim"], 2)
        absent = "9" * 32
        self.fails(["withdraw", "confirm", absent, "--operator", "kim"], 1, mentions="no withdrawal")
        self.fails(["withdraw", "reject", absent, "--memo", "x"], 1, mentions="no withdrawal")
        self.fails(["withdraw", "show", absent], 1, mentions="no withdrawal")
        self.assertEqual(self.get(client, withdraw_id)["status"], "REJECTED")


if __name__ == "__main__":
    unittest.main()
