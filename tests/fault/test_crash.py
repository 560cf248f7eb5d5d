"""Crash test (ARCHITECTURE "Fault tests"): concurrent withdrawals, cancels and `cashctl balance
credit` against cashd, kill -9 of cashd at random moments, restart, and after every restart:

- every withdrawal answered 200 exists, with its amount, and every cancel answered 200 stuck;
- nothing half-exists: every withdrawal has exactly its ledger entries (one WITHDRAW, plus one
  WITHDRAW_REFUND when CANCELED), every entry's groupId names a withdrawal, and a withdrawal nobody
  was answered for can only come from a request that was in flight when cashd died;
- `cashctl ledger verify` passes;
- money is neither created nor lost: balances + live withdrawals = everything credited.

Runs on the database of the harness (CASHD_TEST_DB: sqlite, or postgresql with CASHD_TEST_PG_URL).
CASHD_FAULT_KILLS (default and least 20) sets the number of kills; CASHD_FAULT_SEED replays
one run's random choices (printed at the start).
"""

import collections
import http.client
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "blackbox"))

from cashtest import (Server, add_member, ctl_json, history_all, kill_server,  # noqa: E402
                      make_customer, run_ctl, verify)

KILLS = max(20, int(os.environ.get("CASHD_FAULT_KILLS", "20")))
ACCOUNTS = 3
WORKERS_PER_ACCOUNT = 2
INITIAL_BALANCE = 2000000
LOAD_SECONDS_MIN = 0.3
LOAD_SECONDS_MAX = 2.0
PAUSE_TIMEOUT_SECONDS = 120
LIVE_STATUSES = {"PENDING", "CONFIRMED", "COMPLETED"}

SERVER_ENV = {
    "CASHD_THREADS": "4",
    # One confirmed verification serves a worker for the whole run (SPEC 5 allows up to 100 uses).
    "CASHD_VERIFICATION_MAX_USES": "100",
    "CASHD_VERIFICATION_WINDOW_SECONDS": "3600",
    "CASHD_DAILY_LIMIT": "1000000000000",
    # Workers verify again after each kill that cut a verification short: no abuse limit here.
    "CASHD_VERIFICATION_MEMBER_LIMIT": "100000",
    "CASHD_VERIFICATION_ACCOUNT_LIMIT": "100000",
}


class Gate:
    """Lets the load run, or stops it: pause() returns once no operation is in progress."""

    def __init__(self):
        self.condition = threading.Condition()
        self.open = False
        self.busy = 0
        self.stopped = False

    def enter(self):
        """Waits until the load may run; False when the test is over."""
        with self.condition:
            while not self.open and not self.stopped:
                self.condition.wait()
            if self.stopped:
                return False
            self.busy += 1
            return True

    def leave(self):
        with self.condition:
            self.busy -= 1
            self.condition.notify_all()

    def resume(self):
        with self.condition:
            self.open = True
            self.condition.notify_all()

    def pause(self):
        deadline = time.monotonic() + PAUSE_TIMEOUT_SECONDS
        with self.condition:
            self.open = False
            while self.busy > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("the load did not stop within %d s"
                                         % PAUSE_TIMEOUT_SECONDS)
                self.condition.wait(remaining)

    def stop(self):
        with self.condition:
            self.stopped = True
            self.open = False
            self.condition.notify_all()


class Ledger:
    """What the clients were told, per account: the test's own books."""

    def __init__(self):
        self.lock = threading.Lock()
        self.credited = collections.Counter()       # account -> won, cashctl said done
        self.credit_unknown = {}                    # memo -> (account, won): cashctl failed
        self.acked = {}                             # withdrawId -> (account, totalAmount)
        self.cancel_acked = set()                   # withdrawIds answered 200 to a cancel
        self.cancel_tried = set()                   # every withdrawId a cancel was sent for
        self.in_flight = collections.Counter()      # account -> withdrawals without an answer
        self.known = set()                          # withdrawIds accounted for so far
        self.requests = collections.Counter()       # what was sent, by kind
        self.answers = collections.Counter()        # (kind, status or errorCode)
        self.unexpected = []                        # answers no rule allows

    def count(self, kind, outcome):
        with self.lock:
            self.requests[kind] += 1
            self.answers[(kind, outcome)] += 1


class Worker(threading.Thread):
    """One member of one account: withdraws, cancels its account's withdrawals, reads."""

    EXPECTED_WITHDRAW_ERRORS = {"NotEnoughBalance", "SecondFactorRequired", "ServiceUnavailable"}
    EXPECTED_CANCEL_ERRORS = {"InvalidStatus", "ServiceUnavailable"}

    def __init__(self, test, customer, rng):
        super().__init__(daemon=True)
        self.test = test
        self.customer = customer
        self.rng = rng
        self.client = customer.client()
        self.verified = False
        self.error = None

    def run(self):
        try:
            while self.test.gate.enter():
                try:
                    self.step()
                finally:
                    self.test.gate.leave()
        except Exception as error:  # reported by the test's thread
            self.error = error

    def step(self):
        try:
            if not self.verified:
                self.verify()
                return
            choice = self.rng.random()
            if choice < 0.65:
                self.withdraw()
            elif choice < 0.9:
                self.cancel()
            else:
                self.read()
        except ConnectionRefusedError:
            self.client.close()
            time.sleep(0.02)  # cashd is down: nothing was sent
        except (OSError, http.client.HTTPException):
            # Killed mid-request (the operations below record what they sent first): try again
            # once cashd is back.
            self.client.close()
            time.sleep(0.02)

    def verify(self):
        """An EMAIL_OTP verification, confirmed (one serves this worker for 100 requests)."""
        try:
            verify(self.client, self.test.server)
        except AssertionError:
            return  # refused on the way (cashd busy, or the code of a killed cashd): next step
        self.verified = True

    def withdraw(self):
        books = self.test.books
        account = self.customer.account_id
        total = self.rng.randrange(1000, 20001)
        with books.lock:
            books.in_flight[account] += 1
        try:
            reply = self.client.withdraw(total)
        except ConnectionRefusedError:
            with books.lock:
                books.in_flight[account] -= 1
            raise
        except (OSError, http.client.HTTPException):
            books.count("withdraw", "no answer")  # stays in flight: it may have committed
            raise
        with books.lock:
            books.in_flight[account] -= 1
        books.count("withdraw", reply.status if reply.status == 200 else reply.error_code)
        if reply.status == 200:
            with books.lock:
                books.acked[reply.json["withdrawId"]] = (account, total)
            if reply.json["totalAmount"] != total or reply.json["accountId"] != account:
                books.unexpected.append(("withdraw", total, reply))
        elif reply.error_code == "SecondFactorRequired":
            self.verified = False
        elif reply.error_code not in self.EXPECTED_WITHDRAW_ERRORS:
            books.unexpected.append(("withdraw", total, reply))

    def cancel(self):
        books = self.test.books
        account = self.customer.account_id
        with books.lock:
            candidates = [w for w, (a, _) in books.acked.items()
                          if a == account and w not in books.cancel_acked]
        if not candidates:
            return self.read()
        withdraw_id = self.rng.choice(candidates)
        with books.lock:
            books.cancel_tried.add(withdraw_id)
        try:
            reply = self.client.post("/cash/v1/withdraw/%s/cancel" % withdraw_id)
        except (OSError, http.client.HTTPException) as error:
            if not isinstance(error, ConnectionRefusedError):
                books.count("cancel", "no answer")
            raise
        books.count("cancel", reply.status if reply.status == 200 else reply.error_code)
        if reply.status == 200:
            with books.lock:
                books.cancel_acked.add(withdraw_id)
            if reply.json["status"] != "CANCELED":
                books.unexpected.append(("cancel", withdraw_id, reply))
        elif reply.error_code not in self.EXPECTED_CANCEL_ERRORS:
            books.unexpected.append(("cancel", withdraw_id, reply))

    def read(self):
        reply = self.client.get("/cash/v1/balance")
        self.test.books.count("balance", reply.status if reply.status == 200 else reply.error_code)
        if reply.status != 200 or reply.json["balance"] < 0:
            self.test.books.unexpected.append(("balance", reply))


class Crediter(threading.Thread):
    """`cashctl balance credit` in a loop: the operator's recharges, beside cashd, never killed."""

    def __init__(self, test, accounts, rng):
        super().__init__(daemon=True)
        self.test = test
        self.accounts = accounts
        self.rng = rng
        self.error = None
        self.serial = 0

    def run(self):
        try:
            while self.test.gate.enter():
                try:
                    self.credit()
                finally:
                    self.test.gate.leave()
        except Exception as error:
            self.error = error

    def credit(self):
        books = self.test.books
        account = self.rng.choice(self.accounts)
        amount = self.rng.randrange(200000, 1000001)  # keeps up with the withdrawals
        self.serial += 1
        memo = "crash-credit-%d" % self.serial
        result = run_ctl(self.test.server.db, "balance", "credit", account, amount, "--memo", memo)
        books.count("credit", result.code)
        with books.lock:
            if result.code == 0:
                books.credited[account] += amount
            else:
                books.credit_unknown[memo] = (account, amount)


class CrashTest(unittest.TestCase):
    def setUp(self):
        seed = int(os.environ.get("CASHD_FAULT_SEED", str(random.randrange(1 << 30))))
        print("crash test: seed %d (CASHD_FAULT_SEED), %d kills" % (seed, KILLS), flush=True)
        self.rng = random.Random(seed)
        self.gate = Gate()
        self.books = Ledger()
        self.server = Server(env=SERVER_ENV).start()
        self.threads = []
        self.owner_clients = []

    def tearDown(self):
        self.gate.stop()
        for thread in self.threads:
            thread.join(timeout=60)
            if isinstance(thread, Worker):
                thread.client.close()
        for client in self.owner_clients:
            client.close()
        if self.server.process is not None:
            self.server.stop()

    def make_accounts(self):
        owners = {}
        workers = []
        for _ in range(ACCOUNTS):
            owner = make_customer(self.server, balance=INITIAL_BALANCE)
            self.books.credited[owner.account_id] += INITIAL_BALANCE
            owners[owner.account_id] = owner.client()
            self.owner_clients.append(owners[owner.account_id])
            members = [owner] + [add_member(self.server, owner.account_id)
                                 for _ in range(WORKERS_PER_ACCOUNT - 1)]
            for member in members:
                workers.append(Worker(self, member, random.Random(self.rng.random())))
        return owners, workers

    def test_kill_9_under_load(self):
        owners, workers = self.make_accounts()
        crediter = Crediter(self, list(owners), random.Random(self.rng.random()))
        self.threads = workers + [crediter]
        for thread in self.threads:
            thread.start()
        started = time.monotonic()
        kills = 0
        for kills in range(1, KILLS + 1):
            self.gate.resume()
            time.sleep(self.rng.uniform(LOAD_SECONDS_MIN, LOAD_SECONDS_MAX))
            code = kill_server(self.server)
            self.assertEqual(code, -9)
            self.gate.pause()
            self.assert_threads_alive()
            self.check_stopped()
            self.server.start()
            self.check_running(owners, kills)
        elapsed = time.monotonic() - started
        self.gate.stop()
        self.report(kills, elapsed)
        self.assertGreaterEqual(kills, 20)
        withdrawals = self.books.answers[("withdraw", 200)]
        cancels = self.books.answers[("cancel", 200)]
        self.assertGreater(withdrawals, kills, "withdrawals went through between the kills")
        self.assertGreater(cancels, 0, "cancels went through between the kills")
        self.assertEqual(self.server.stop(), 0, self.server.log_text()[-3000:])

    def assert_threads_alive(self):
        for thread in self.threads:
            if thread.error is not None:
                raise thread.error
            self.assertTrue(thread.is_alive())
        self.assertEqual(self.books.unexpected, [])

    # ---- the checks ----

    def check_stopped(self):
        """With cashd dead: the operator's own audit of the database."""
        ledger = run_ctl(self.server.db, "ledger", "verify")
        self.assertEqual(ledger.code, 0, ledger)

    def check_running(self, owners, kills):
        """After the restart: the books against what cashd holds."""
        books = self.books
        stored = {w["withdrawId"]: w for w in ctl_json(self.server.db, "withdraw", "list")}
        self.resolve_unknown_credits(owners)
        for withdraw_id, (account, total) in books.acked.items():
            self.assertIn(withdraw_id, stored, "kill %d: a withdrawal answered 200 is gone" % kills)
            self.assertEqual((stored[withdraw_id]["accountId"],
                              stored[withdraw_id]["totalAmount"]), (account, total))
        for withdraw_id in books.cancel_acked:
            self.assertEqual(stored[withdraw_id]["status"], "CANCELED",
                             "kill %d: a cancel answered 200 did not stick" % kills)
        self.check_unanswered(stored, kills)
        for account, client in owners.items():
            self.check_account(account, client, stored, kills)

    def check_unanswered(self, stored, kills):
        """A withdrawal nobody was answered for was in flight when cashd died."""
        books = self.books
        unanswered = collections.Counter()
        for withdraw_id, withdrawal in stored.items():
            if withdraw_id in books.acked or withdraw_id in books.known:
                continue
            unanswered[withdrawal["accountId"]] += 1
            books.known.add(withdraw_id)
        for account, count in unanswered.items():
            self.assertLessEqual(count, books.in_flight[account],
                                 "kill %d: withdrawals that no request made" % kills)
        books.in_flight.clear()  # the requests in flight died with cashd
        for withdraw_id, withdrawal in stored.items():
            if withdrawal["status"] == "CANCELED":
                self.assertIn(withdraw_id, books.cancel_tried,
                              "kill %d: canceled without a cancel" % kills)
            else:
                self.assertEqual(withdrawal["status"], "PENDING")

    def check_account(self, account, client, stored, kills):
        client.close()  # its connection went with the killed cashd
        balance = client.get("/cash/v1/balance")
        self.assertEqual(balance.status, 200, balance)
        entries = history_all(client)
        mine = {w: s for w, s in stored.items() if s["accountId"] == account}
        groups = collections.defaultdict(list)
        for entry in entries:
            groups[entry["groupId"]].append(entry["type"])
        for withdraw_id, withdrawal in mine.items():
            expected = ["WITHDRAW"] + (["WITHDRAW_REFUND"] if withdrawal["status"] == "CANCELED"
                                       else [])
            self.assertEqual(sorted(groups.pop(withdraw_id, [])), sorted(expected),
                             "kill %d: ledger entries of %s" % (kills, withdraw_id))
        self.assertEqual(set(groups), {None}, "kill %d: entries of no withdrawal" % kills)
        recharges = sum(e["balanceAmount"] for e in entries if e["type"] == "RECHARGE")
        self.assertEqual(recharges, self.books.credited[account],
                         "kill %d: recharges of %s" % (kills, account))
        live = sum(w["totalAmount"] for w in mine.values() if w["status"] in LIVE_STATUSES)
        self.assertEqual(balance.json["balance"] + live, self.books.credited[account],
                         "kill %d: balance + live withdrawals of %s" % (kills, account))
        self.assertEqual(sum(e["balanceAmount"] for e in entries), balance.json["balance"])

    def resolve_unknown_credits(self, owners):
        """A cashctl credit that failed may still have committed: its memo tells."""
        books = self.books
        if not books.credit_unknown:
            return
        memos = {}
        for client in owners.values():
            client.close()
            for entry in history_all(client):
                memos[entry["memo"]] = entry
        for memo, (account, amount) in list(books.credit_unknown.items()):
            if memo in memos:
                self.assertEqual((memos[memo]["accountId"], memos[memo]["balanceAmount"]),
                                 (account, amount))
                books.credited[account] += amount
            del books.credit_unknown[memo]

    def report(self, kills, elapsed):
        books = self.books
        total = sum(books.requests.values())
        print("crash test: %d kills survived in %.0f s; %d requests (%s)"
              % (kills, elapsed, total, ", ".join("%s %d" % item
                                                  for item in sorted(books.requests.items()))),
              flush=True)
        print("crash test: answers %s" % ", ".join(
            "%s %s: %d" % (kind, outcome, count)
            for (kind, outcome), count in sorted(books.answers.items(), key=str)), flush=True)
        print("crash test: %d withdrawals answered 200, %d more committed unanswered, "
              "%d cancels answered 200" % (len(books.acked), len(books.known),
                                           len(books.cancel_acked)), flush=True)


if __name__ == "__main__":
    unittest.main()
