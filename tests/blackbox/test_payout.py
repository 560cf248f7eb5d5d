"""The payout worker and the bank gateway protocol (SPEC 4; docs/bank-gateway.md), against the
suite's fake bank gateway: success, each failure code with its refund, 500, timeouts, late and
lost answers, and kill -9 of cashd while a transfer is in flight. No transfer is ever paid
twice, and after an uncertain answer the worker only asks, never sends again blindly."""

import shutil
import signal
import subprocess
import time
import unittest

import fakes
from cashtest import (Database, ServerTestCase, base_env, cashd_bin, ctl_ok, parse_iso,
                      run_ctl)

SECRET = "bank-gateway-test-secret"
WITHDRAW = "/cash/v1/withdraw"
WAIT_SECONDS = 45


class PayoutTestCase(ServerTestCase):
    plan = []
    lease_seconds = 30
    overdue_seconds = 3600
    default = "succeed"

    @classmethod
    def setUpClass(cls):
        cls.gateway = fakes.BankGateway(SECRET, plan=cls.plan, default=cls.default, delay=4.0)
        cls.server_env = {"CASHD_BANK_URL": cls.gateway.url, "CASHD_BANK_SECRET": SECRET,
                          "CASHD_BANK_TIMEOUT_SECONDS": "2", "CASHD_PAYOUT_POLL_MS": "100",
                          "CASHD_PAYOUT_LEASE_SECONDS": str(cls.lease_seconds),
                          "CASHD_PAYOUT_OVERDUE_SECONDS": str(cls.overdue_seconds)}
        try:
            super().setUpClass()
        except Exception:
            cls.gateway.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.gateway.close()

    def confirmed(self, total=20000, balance=100000):
        """A customer's client and a withdrawal an operator confirmed (the worker takes it)."""
        customer, client = self.new_client(balance=balance)
        self.verify(client)
        reply = client.withdraw(total)
        self.assertEqual(reply.status, 200, reply)
        withdraw_id = reply.json["withdrawId"]
        result = run_ctl(self.server.db, "withdraw", "confirm", withdraw_id, "--operator", "kim")
        self.assertEqual(result.code, 0, result)
        return client, reply.json

    def final(self, client, withdraw_id):
        """Waits until the withdrawal is COMPLETED or FAILED; the withdrawal."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            reply = client.get("%s/%s" % (WITHDRAW, withdraw_id))
            self.assertEqual(reply.status, 200, reply)
            if reply.json["status"] in ("COMPLETED", "FAILED"):
                self.assertIs(reply.json["isProcessing"], False)
                return reply.json
            time.sleep(0.1)
        raise AssertionError("withdrawal %s not settled; cashd log:\n%s"
                             % (withdraw_id, "\n".join(self.server.lines[-30:])))

    def assert_paid_once(self, withdraw_id):
        self.assertEqual(self.gateway.payments.get(withdraw_id), 1)
        self.assertEqual(self.gateway.bad_signatures, 0)

    def assert_completed(self, client, created):
        withdrawal = self.final(client, created["withdrawId"])
        self.assertEqual(withdrawal["status"], "COMPLETED", withdrawal)
        outcome = self.gateway.outcomes[created["withdrawId"]]
        self.assertEqual(withdrawal["transactionId"], outcome["transactionId"])
        self.assertEqual(parse_iso(withdrawal["transactionDate"]),
                         parse_iso(outcome["transactionDate"]))
        self.assertEqual(client.balance(), 100000 - created["totalAmount"])
        self.assert_paid_once(created["withdrawId"])
        return withdrawal


class PayoutTest(PayoutTestCase):
    def test_success(self):
        client, created = self.confirmed()
        self.assert_completed(client, created)
        sent = self.gateway.bodies[created["withdrawId"]]
        self.assertEqual(sent, {"transferId": created["withdrawId"], "bankCode": "004",
                                "accountNumber": "1234567890", "holderName": "홍길동",
                                "amount": created["amount"], "currency": "KRW"})
        self.assertEqual(self.gateway.requests_for(created["withdrawId"]), [("POST", 200)])
        shown = run_ctl(self.server.db, "--json", "withdraw", "show", created["withdrawId"]).json()
        self.assertEqual([e["to"] for e in shown["events"]],
                         ["PENDING", "CONFIRMED", "CONFIRMED", "COMPLETED"])
        self.assertTrue(shown["events"][2]["actor"].startswith("worker:"))

    def test_each_failure_code_refunds(self):
        for code in ("ACCOUNT_CLOSED", "INVALID_ACCOUNT_NUMBER", "HOLDER_NAME_MISMATCH",
                     "BANK_DECLINED"):
            with self.subTest(code=code):
                self.gateway.plan.append("fail:" + code)
                client, created = self.confirmed()
                withdrawal = self.final(client, created["withdrawId"])
                self.assertEqual(withdrawal["status"], "FAILED")
                self.assertEqual(withdrawal["memo"], code)
                self.assertIsNone(withdrawal["transactionId"])
                self.assertEqual(client.balance(), 100000)
                refunds = [e for e in client.history() if e["type"] == "WITHDRAW_REFUND"]
                self.assertEqual(len(refunds), 1)
                self.assertEqual(refunds[0]["groupId"], created["withdrawId"])
                self.assertNotIn(created["withdrawId"], self.gateway.payments)

    def test_500_is_asked_about_then_sent_again(self):
        self.gateway.plan.append("500")
        client, created = self.confirmed()
        self.assert_completed(client, created)
        self.assertEqual(self.gateway.requests_for(created["withdrawId"]),
                         [("POST", 500), ("GET", 404), ("POST", 200)])

    def test_lost_answer_is_asked_about_not_sent_again(self):
        self.gateway.plan.append("lose")
        client, created = self.confirmed()
        self.assert_completed(client, created)
        self.assertEqual(self.gateway.requests_for(created["withdrawId"]),
                         [("POST", 0), ("GET", 200)])

    def test_late_answer_is_asked_about(self):
        self.gateway.plan.append("late")
        client, created = self.confirmed()
        self.assert_completed(client, created)
        requests = self.gateway.requests_for(created["withdrawId"])
        self.assertEqual(requests[0][0], "POST")
        self.assertEqual([m for (m, _) in requests].count("POST"), 1, requests)
        self.assertIn(("GET", 200), requests)

    def test_timeout_without_payment_is_sent_again(self):
        self.gateway.plan.append("timeout")
        client, created = self.confirmed()
        self.assert_completed(client, created)
        requests = self.gateway.requests_for(created["withdrawId"])
        self.assertEqual(requests[0], ("POST", 0))
        self.assertEqual(requests[-1], ("POST", 200))
        self.assertIn(("GET", 404), requests)

    def test_operator_cannot_reject_while_processing(self):
        self.gateway.plan.append("late")
        client, created = self.confirmed()
        withdraw_id = created["withdrawId"]
        self.gateway.wait_requests(lambda r: ("POST", withdraw_id, 200) in r,
                                   "the transfer at the gateway")
        seen = client.get("%s/%s" % (WITHDRAW, withdraw_id)).json
        self.assertEqual((seen["status"], seen["isProcessing"]), ("CONFIRMED", True))
        rejected = run_ctl(self.server.db, "withdraw", "reject", withdraw_id, "--memo", "late")
        cancel = client.post("%s/%s/cancel" % (WITHDRAW, withdraw_id))
        self.assert_completed(client, created)
        self.assertEqual(rejected.code, 1, rejected)
        self.assertEqual(cancel.status, 409, cancel)


class PayoutCrashTest(PayoutTestCase):
    """kill -9 of cashd while a transfer is in flight: the restarted worker takes the claim over
    once its lease ran out, asks the gateway first, and records the one payment."""

    plan = ["hold"]
    lease_seconds = 3

    def test_kill_9_in_flight(self):
        client, created = self.confirmed()
        withdraw_id = created["withdrawId"]
        self.gateway.wait_requests(lambda r: ("POST", withdraw_id, 0) in r,
                                   "the transfer in flight")
        seen = client.get("%s/%s" % (WITHDRAW, withdraw_id)).json
        self.assertEqual(seen["status"], "CONFIRMED")
        self.assertIs(seen["isProcessing"], True)
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()
        self.gateway.release()
        self.server.stop()
        self.server.start()
        client.close()  # the next request connects to the restarted server's port
        self.assert_completed(client, created)
        requests = self.gateway.requests_for(withdraw_id)
        self.assertEqual(requests, [("POST", 0), ("GET", 200)])
        ledger = run_ctl(self.server.db, "ledger", "verify")
        self.assertEqual(ledger.code, 0, ledger)


class PayoutStuckTest(PayoutTestCase):
    """A transfer the gateway holds: GET /cash/v1/withdraw?overdue=true and `cashctl withdraw
    stuck` show it once it is processing longer than CASHD_PAYOUT_OVERDUE_SECONDS."""

    default = "stall"
    overdue_seconds = 1

    def test_overdue_and_stuck(self):
        client, created = self.confirmed()
        withdraw_id = created["withdrawId"]
        _, other = self.new_client(balance=1000)
        self.gateway.wait_requests(lambda r: ("POST", withdraw_id, 0) in r,
                                   "the transfer in flight")
        time.sleep(1.5)  # past CASHD_PAYOUT_OVERDUE_SECONDS
        reply = client.get(WITHDRAW, {"overdue": "true"})
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual([w["withdrawId"] for w in reply.json["data"]], [withdraw_id])
        self.assertIs(reply.json["data"][0]["isProcessing"], True)
        self.assertEqual(other.get(WITHDRAW, {"overdue": "true"}).json["data"], [])
        both = client.get(WITHDRAW, {"overdue": "false"}).json["data"]
        self.assertEqual([w["withdrawId"] for w in both], [withdraw_id])
        stuck = run_ctl(self.server.db, "withdraw", "stuck",
                        env={"CASHD_PAYOUT_OVERDUE_SECONDS": "1"})
        self.assertEqual((stuck.code, stuck.out), (0, withdraw_id + "\n"), stuck)
        # cashctl's own default (an hour) does not call it stuck yet
        self.assertEqual(run_ctl(self.server.db, "withdraw", "stuck").out, "")
        stuck = run_ctl(self.server.db, "--json", "withdraw", "stuck", "--seconds", "1")
        self.assertEqual([w["withdrawId"] for w in stuck.json()], [withdraw_id])
        later = run_ctl(self.server.db, "withdraw", "stuck", "--seconds", "3600")
        self.assertEqual((later.code, later.out), (0, ""), later)
        for bad in ["TRUE", "1", "yes", "", "true,false"]:
            self.assert_error(client.get(WITHDRAW, {"overdue": bad}), 400, "ValidationError")
        self.assert_error(client.get(WITHDRAW + "?overdue=true&overdue=true"), 400,
                          "ValidationError")
        for bad in ["0", "-1", "x", "31536001", "1.5", ""]:
            result = run_ctl(self.server.db, "withdraw", "stuck", "--seconds", bad)
            self.assertEqual(result.code, 2, result)
            self.assertIn("--seconds", result.err)
        self.gateway.default = "succeed"
        self.gateway.release()
        self.assert_completed(client, created)
        self.assertEqual(client.get(WITHDRAW, {"overdue": "true"}).json["data"], [])
        self.assertEqual(run_ctl(self.server.db, "withdraw", "stuck").out, "")


class PayoutConfigTest(unittest.TestCase):
    """cashd refuses to start with a bank gateway it could not use."""

    def test_bad_bank_settings(self):
        db = Database()
        try:
            ctl_ok(db, "init")
            cases = [({"CASHD_BANK_URL": "ftp://127.0.0.1:9", "CASHD_BANK_SECRET": SECRET},
                      "CASHD_BANK_URL"),
                     ({"CASHD_BANK_URL": "http://127.0.0.1:9", "CASHD_BANK_SECRET": "short"},
                      "CASHD_BANK_SECRET"),
                     ({"CASHD_BANK_URL": "http://127.0.0.1:9"}, "CASHD_BANK_SECRET")]
            for extra, mentions in cases:
                env = base_env(db.env())
                env["CASHD_MAIL"] = "console"
                env.update(extra)
                done = subprocess.run([cashd_bin(), "--listen", "127.0.0.1:0"], env=env,
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                      timeout=60)
                self.assertNotEqual(done.returncode, 0, done)
                self.assertIn(mentions, done.stdout + done.stderr)
            for name in ("--bank-timeout-seconds", "--payout-lease-seconds", "--payout-poll-ms",
                         "--payout-overdue-seconds"):
                for bad in ("0", "-1", "x", "99999999999"):
                    done = subprocess.run([cashd_bin(), name, bad], env=base_env(db.env()),
                                          stdin=subprocess.DEVNULL, capture_output=True,
                                          text=True, timeout=60)
                    self.assertNotEqual(done.returncode, 0, (name, bad, done))
        finally:
            shutil.rmtree(db.dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
