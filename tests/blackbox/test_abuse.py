"""Abuse limits of the second factor (SPEC 5; docs/API.md "Abuse limits"): verifications created
per member and per account, wrong codes per verification and in a row per member, each answered
429 with a Retry-After; every limit also holds with two cashd processes on one database. And the
cooling-off after a bank account changes through the API."""

import datetime
import subprocess
import threading
import time
import unittest

import fakes
from cashtest import (Server, ServerTestCase, add_member, base_env, cashd_bin, parse_iso,
                      snapshot)

VERIFICATIONS = "/cash/v1/verifications"
BANK = "/cash/v1/bank/accounts"
HOUR = 3600
# cashd's own defaults, not the suite's (cashtest.SUITE_LIMITS)
DEFAULT_LIMITS = {"CASHD_VERIFICATION_MEMBER_LIMIT": None,
                  "CASHD_VERIFICATION_ACCOUNT_LIMIT": None}


def wrong_code(right):
    return "%06d" % ((int(right) + 1) % 1000000)


class AbuseTestCase(ServerTestCase):
    def assert_retry_after(self, reply, status, error_code, low, high):
        """reply is a 429 (or other refusal) with Retry-After in low..high seconds."""
        self.assert_error(reply, status, error_code)
        self.assertIn("retry-after", reply.headers, reply.headers)
        self.assertRegex(reply.headers["retry-after"], r"^[1-9]\d*$")
        self.assertGreaterEqual(int(reply.headers["retry-after"]), low, reply.headers)
        self.assertLessEqual(int(reply.headers["retry-after"]), high, reply.headers)

    def created(self, client):
        reply = client.create_verification()
        self.assertEqual(reply.status, 200, reply)
        return reply.json["verificationId"]

    def lock_verification(self, client):
        """A new verification given VERIFICATION_ATTEMPTS_MAX wrong codes: (its id, the last
        answer)."""
        verification_id = self.created(client)
        wrong = wrong_code(self.server.code_for(verification_id))
        for _ in range(4):
            self.assert_error(client.confirm(verification_id, wrong), 400,
                              "InvalidVerificationCode")
        return verification_id, client.confirm(verification_id, wrong)


class DefaultLimitsTest(AbuseTestCase):
    server_env = DEFAULT_LIMITS

    def test_five_verifications_per_member_per_hour(self):
        customer, client = self.new_client()
        for _ in range(5):
            self.created(client)
        reply = client.create_verification()
        self.assert_retry_after(reply, 429, "TooManyRequests", HOUR - 120, HOUR)
        self.assertIn("try again in", reply.json["errorMessage"])
        # Every method counts, and the refusal created nothing.
        self.assert_retry_after(client.create_verification("ARS"), 429, "TooManyRequests",
                                HOUR - 120, HOUR)
        colleague = self.client_of(add_member(self.server, customer.account_id))
        self.created(colleague)

    def test_a_locked_verification_tells_when_a_new_one_may_be_asked_for(self):
        _, client = self.new_client()
        verification_id, reply = self.lock_verification(client)
        # A new verification may be asked for at once.
        self.assert_retry_after(reply, 429, "TooManyAttempts", 1, 1)
        self.assertIn("verification is locked", reply.json["errorMessage"])
        for _ in range(4):
            self.created(client)
        # Five created this hour: a new one waits until the first leaves the hour.
        reply = client.confirm(verification_id, "000000")
        self.assert_retry_after(reply, 429, "TooManyAttempts", HOUR - 120, HOUR)
        self.assertEqual(client.get("%s/%s" % (VERIFICATIONS, verification_id))
                         .json["attemptsLeft"], 0)

    def test_twenty_wrong_codes_in_a_row_lock_the_member_for_fifteen_minutes(self):
        customer, client = self.new_client(balance=50000)
        for _ in range(3):
            self.assert_retry_after(self.lock_verification(client)[1], 429, "TooManyAttempts",
                                    1, 1)
        verification_id = self.created(client)
        right = self.server.code_for(verification_id)
        for _ in range(4):
            self.assert_error(client.confirm(verification_id, wrong_code(right)), 400,
                              "InvalidVerificationCode")
        before = snapshot(client)
        # The 20th wrong code in a row: 15 minutes for the whole member.
        reply = client.confirm(verification_id, wrong_code(right))
        self.assert_retry_after(reply, 429, "TooManyAttempts", 900 - 60, 900)
        reply = client.create_verification()
        self.assert_retry_after(reply, 429, "TooManyAttempts", 900 - 60, 900)
        self.assertIn("member is locked out", reply.json["errorMessage"])
        self.assertEqual(snapshot(client), before)
        # The member's colleagues are not locked.
        colleague = self.client_of(add_member(self.server, customer.account_id))
        self.created(colleague)

    def test_fifty_verifications_per_account_per_day(self):
        customer, client = self.new_client()
        clients = [client] + [self.client_of(add_member(self.server, customer.account_id))
                              for _ in range(9)]
        for member in clients:
            for _ in range(5):
                self.created(member)
        newcomer = self.client_of(add_member(self.server, customer.account_id))
        self.assert_retry_after(newcomer.create_verification(), 429, "TooManyRequests",
                                24 * HOUR - 300, 24 * HOUR)
        # Another account is not affected.
        _, other = self.new_client()
        self.created(other)


class ShortWindowsTest(AbuseTestCase):
    """Windows are settings: expiry is tested in seconds, not hours."""

    server_env = {"CASHD_VERIFICATION_MEMBER_LIMIT": "2",
                  "CASHD_VERIFICATION_MEMBER_WINDOW_SECONDS": "3",
                  "CASHD_MEMBER_FAILURES_MAX": "3", "CASHD_MEMBER_LOCK_SECONDS": "3"}

    def test_the_member_window_passes(self):
        _, client = self.new_client()
        first = time.monotonic()
        self.created(client)
        self.created(client)
        self.assert_retry_after(client.create_verification(), 429, "TooManyRequests", 1, 3)
        time.sleep(max(0.0, 3.2 - (time.monotonic() - first)))
        self.created(client)

    def test_the_member_lock_passes(self):
        _, client = self.new_client()
        verification_id = self.created(client)
        wrong = wrong_code(self.server.code_for(verification_id))
        for _ in range(2):
            self.assert_error(client.confirm(verification_id, wrong), 400,
                              "InvalidVerificationCode")
        self.assert_retry_after(client.confirm(verification_id, wrong), 429, "TooManyAttempts",
                                1, 3)
        right = self.server.code_for(verification_id)
        self.assert_retry_after(client.confirm(verification_id, right), 429, "TooManyAttempts",
                                1, 3)
        time.sleep(3.2)
        reply = client.confirm(verification_id, right)
        self.assertEqual(reply.status, 200, "the lock passed and the verification was open")

    def test_a_right_code_starts_the_count_again(self):
        _, client = self.new_client()
        for _ in range(2):
            verification_id = self.created(client)
            right = self.server.code_for(verification_id)
            for _ in range(2):
                self.assert_error(client.confirm(verification_id, wrong_code(right)), 400,
                                  "InvalidVerificationCode")
            self.assertEqual(client.confirm(verification_id, right).status, 200)
            time.sleep(3.2)  # the member window (2 per 3 s)


class ArsFailuresCountTest(AbuseTestCase):
    """Wrong digits typed during an ARS call count as wrong codes of the member."""

    SECRET = "abuse-test-gateway-secret-0123456789"
    server_env = {"CASHD_ARS_URL": "console", "CASHD_ARS_SECRET": SECRET,
                  "CASHD_MEMBER_FAILURES_MAX": "2"}

    def test_wrong_digits_lock_the_member(self):
        _, client = self.new_client()
        gateway = fakes.PhoneGateway(self.SECRET)
        gateway.cashd_port = self.server.port
        try:
            for _ in range(2):
                created = client.create_verification("ARS").json
                wrong = "%02d" % ((int(created["arsCode"]) + 1) % 100)
                answer = gateway.callback({"verificationId": created["verificationId"],
                                           "result": "ANSWERED", "digits": wrong})
                self.assertEqual(answer[0], 200, answer)
        finally:
            gateway.close()
        self.assert_retry_after(client.create_verification(), 429, "TooManyAttempts", 800, 900)


class TwoProcessesTest(AbuseTestCase):
    """Two cashd processes on one database: every limit counts what both did."""

    server_env = dict(DEFAULT_LIMITS, CASHD_MEMBER_FAILURES_MAX="4",
                      CASHD_VERIFICATION_ACCOUNT_LIMIT="7")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = Server(env=cls.server_env, db=cls.server.db).start()

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.other.stop()
            assert code == 0, "the second cashd exited with %r" % code
        finally:
            super().tearDownClass()

    def pair(self, customer):
        """A client of customer on each server."""
        here = self.client_of(customer)
        there = self.client_of(customer)
        there.server = self.other
        return here, there

    def test_the_member_limit_counts_both_processes(self):
        customer, _ = self.new_client()
        here, there = self.pair(customer)
        for index in range(5):
            reply = (here if index % 2 == 0 else there).create_verification()
            self.assertEqual(reply.status, 200, reply)
        for client in (here, there):
            self.assert_retry_after(client.create_verification(), 429, "TooManyRequests",
                                    HOUR - 120, HOUR)

    def test_racing_processes_take_exactly_the_places_there_are(self):
        customer, _ = self.new_client()
        clients = []
        for index in range(10):
            client = self.client_of(customer)
            client.server = self.server if index % 2 == 0 else self.other
            clients.append(client)
        replies = [None] * len(clients)
        barrier = threading.Barrier(len(clients))

        def create(index):
            barrier.wait()
            replies[index] = clients[index].create_verification()

        threads = [threading.Thread(target=create, args=(i,)) for i in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        statuses = sorted(reply.status for reply in replies)
        self.assertEqual(statuses, [200] * 5 + [429] * 5, replies)

    def test_the_account_limit_counts_both_processes(self):
        customer, _ = self.new_client()
        here, there = self.pair(customer)
        colleague = add_member(self.server, customer.account_id)
        other_here, other_there = self.pair(colleague)
        for client in (here, there, here, there, other_here, other_there, other_here):
            self.assertEqual(client.create_verification().status, 200)
        for client in (other_there, here):
            self.assert_retry_after(client.create_verification(), 429, "TooManyRequests",
                                    24 * HOUR - 300, 24 * HOUR)

    def test_the_member_lock_counts_both_processes(self):
        customer, _ = self.new_client()
        here, there = self.pair(customer)
        first = here.create_verification().json["verificationId"]
        second = there.create_verification().json["verificationId"]
        for client, verification_id, server in ((here, first, self.server),
                                                (there, second, self.other),
                                                (here, first, self.server)):
            right = server.code_for(verification_id)
            self.assert_error(client.confirm(verification_id, wrong_code(right)), 400,
                              "InvalidVerificationCode")
        right = self.other.code_for(second)
        self.assert_retry_after(there.confirm(second, wrong_code(right)), 429, "TooManyAttempts",
                                840, 900)
        for client in (here, there):
            self.assert_retry_after(client.create_verification(), 429, "TooManyAttempts",
                                    840, 900)
        self.assert_retry_after(here.confirm(first, self.server.code_for(first)), 429,
                                "TooManyAttempts", 840, 900)

    def test_a_verification_lock_counts_both_processes(self):
        customer, _ = self.new_client()
        here, there = self.pair(customer)
        verification_id = here.create_verification().json["verificationId"]
        right = self.server.code_for(verification_id)
        answers = [(here if i % 2 == 0 else there).confirm(verification_id, wrong_code(right))
                   for i in range(3)]
        self.assertEqual([a.status for a in answers], [400, 400, 400])
        self.assertEqual([a.json["errorMessage"][-15:] for a in answers],
                         ["4 attempts left", "3 attempts left", "2 attempts left"])


class CoolingOffTest(AbuseTestCase):
    """SPEC 5: no withdrawal within 24 hours of a bank account change made through the API; an
    account the operator set (cashctl bank set) is exempt."""

    GOOD = {"bankCode": "088", "accountNumber": "110-293-847561", "holderName": "Attacker"}

    def register(self, client):
        self.verify(client)
        reply = client.post(BANK, self.GOOD)
        self.assertEqual(reply.status, 200, reply)
        return reply.json

    def test_an_operator_set_account_is_not_cooling_off(self):
        _, client = self.new_client(balance=50000)
        self.verify(client)
        self.assertEqual(client.withdraw(20000).status, 200)

    def test_a_swapped_account_cools_off(self):
        customer, client = self.new_client(balance=50000)
        bank = self.register(client)
        verification_id = self.verify(client)
        before = snapshot(client)
        reply = client.withdraw(20000)
        self.assert_error(reply, 403, "BankAccountCoolingOff", mentions=bank["dateUpdated"])
        until = parse_iso(bank["dateUpdated"]) + datetime.timedelta(hours=24)
        self.assertIn(until.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                      reply.json["errorMessage"])
        self.assertEqual(snapshot(client), before)
        state = client.get("%s/%s" % (VERIFICATIONS, verification_id)).json
        self.assertEqual(state["usesLeft"], 1, "the refused withdrawal spent no factor")
        # Deleting and registering again starts the cooling-off again.
        self.assertEqual(client.delete(BANK).status, 200)
        self.register(client)
        self.verify(client)
        self.assert_error(client.withdraw(20000), 403, "BankAccountCoolingOff")
        # The operator checks the account and sets it: no cooling-off.
        result = self.server.ctl("bank", "set", customer.account_id, "--bank-code", "088",
                                 "--number", "110-293-847561", "--holder", "Attacker")
        self.assertEqual(result.code, 0, result)
        self.assertEqual(client.withdraw(20000).status, 200)

    def test_the_cooling_off_ends(self):
        customer, client = self.new_client(balance=50000)
        self.register(client)
        self.verify(client)
        self.assert_error(client.withdraw(20000), 403, "BankAccountCoolingOff")
        # The change moved back in time, in the database itself (either backend).
        self.assertRegex(customer.account_id, r"^\d{14}$")
        self.server.db.execute("UPDATE bank_accounts SET updated_ms = updated_ms - %d"
                               " WHERE account_id = '%s'" % (24 * HOUR * 1000 + 1000,
                                                             customer.account_id))
        self.assertEqual(client.withdraw(20000).status, 200)


class NoCoolingOffTest(AbuseTestCase):
    server_env = {"CASHD_BANK_COOLING_OFF_HOURS": "0"}

    def test_zero_turns_the_cooling_off_off(self):
        _, client = self.new_client(balance=50000, bank=False)
        self.verify(client)
        self.assertEqual(client.post(BANK, CoolingOffTest.GOOD).status, 200)
        self.verify(client)
        self.assertEqual(client.withdraw(20000).status, 200)


class LimitSettingsTest(unittest.TestCase):
    def test_bad_settings_stop_cashd(self):
        names = ["CASHD_VERIFICATION_MEMBER_LIMIT", "CASHD_VERIFICATION_MEMBER_WINDOW_SECONDS",
                 "CASHD_VERIFICATION_ACCOUNT_LIMIT", "CASHD_VERIFICATION_ACCOUNT_WINDOW_SECONDS",
                 "CASHD_MEMBER_FAILURES_MAX", "CASHD_MEMBER_LOCK_SECONDS"]
        cases = [(name, value) for name in names for value in ("0", "-1", "x", "", "1.5")]
        cases += [("CASHD_BANK_COOLING_OFF_HOURS", value) for value in ("-1", "8761", "x", "")]
        for name, value in cases:
            with self.subTest(name=name, value=value):
                completed = subprocess.run(
                    [cashd_bin(), "--listen", "127.0.0.1:0"],
                    env=base_env({"CASHD_DB": "sqlite:/nonexistent/x.db", name: value}),
                    capture_output=True, text=True, timeout=60)
                self.assertEqual(completed.returncode, 2, completed)
                self.assertIn(name, completed.stderr)

    def test_help_lists_every_setting(self):
        completed = subprocess.run([cashd_bin(), "--help"], env=base_env(), capture_output=True,
                                   text=True, timeout=60)
        self.assertEqual(completed.returncode, 0)
        for name in ("CASHD_MAIL_USER", "CASHD_MAIL_PASSWORD", "CASHD_MAIL_CA_FILE",
                     "CASHD_MAIL_TIMEOUT_SECONDS", "CASHD_ARS_TIMEOUT_SECONDS",
                     "CASHD_VERIFICATION_MEMBER_LIMIT", "CASHD_VERIFICATION_ACCOUNT_LIMIT",
                     "CASHD_VERIFICATION_MEMBER_WINDOW_SECONDS",
                     "CASHD_VERIFICATION_ACCOUNT_WINDOW_SECONDS", "CASHD_MEMBER_FAILURES_MAX",
                     "CASHD_MEMBER_LOCK_SECONDS", "CASHD_BANK_COOLING_OFF_HOURS"):
            self.assertIn(name, completed.stdout)


if __name__ == "__main__":
    unittest.main()
