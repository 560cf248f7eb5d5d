"""Several cashd processes on one database (SPEC 7): what one process does, every other sees at
once, and no rule can be broken by sending requests to different processes at the same time.

Five cashd processes share one database: three configured to let one verification authorise 64
withdrawals (the race), two with the default of one. Both backends run this file: on PostgreSQL
(the deployment it is written for) and on SQLite (several processes on one file, which WAL
allows). The fault test makes the database fail under a request in each backend's own way:
PostgreSQL's connection is terminated (pg_terminate_backend) while the request waits for a row
lock; SQLite's write lock is held by another process past cashd's timeout."""

import queue
import shutil
import subprocess
import threading
import time
import unittest

from cashtest import (CTL_TIMEOUT_SECONDS, REQUEST_TIMEOUT_SECONDS, Client, Database, Server,
                      ctl_ok, make_customer, run_ctl, verify)

USES = 64
REQUESTS = 64
TOTAL = 10000
BALANCE = 215000  # floor(BALANCE / TOTAL) = 21 of the 64 succeed
WAIT_SECONDS = 60


def run_together(calls):
    """Runs every call in its own thread, all released at once; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = []

    def worker(index):
        try:
            barrier.wait(timeout=WAIT_SECONDS)
            results[index] = calls[index]()
        except Exception as error:  # handed to the test's thread below
            errors.append(error)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT_SECONDS * 4)
    if errors:
        raise errors[0]
    assert all(result is not None for result in results), results
    return results


class MultiProcessTest(unittest.TestCase):
    db = None
    many = []  # CASHD_VERIFICATION_MAX_USES=64
    once = []  # the default: one use

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        ctl_ok(cls.db, "init")
        cls.many = []
        cls.once = []
        # Each process is started the moment before the next, so they overlap in start-up too.
        for _ in range(3):
            cls.many.append(Server(env={"CASHD_VERIFICATION_MAX_USES": str(USES),
                                        "CASHD_THREADS": "4"}, db=cls.db).start())
        for _ in range(2):
            cls.once.append(Server(env={"CASHD_THREADS": "4"}, db=cls.db).start())

    @classmethod
    def tearDownClass(cls):
        codes = [server.stop() for server in cls.many + cls.once]
        ledger = run_ctl(cls.db, "ledger", "verify")
        if any(code != 0 for code in codes):
            raise AssertionError("a cashd exited with %r on SIGTERM" % codes)
        if ledger.code != 0:
            raise AssertionError("cashctl ledger verify failed: %r" % ledger)
        shutil.rmtree(cls.db.dir, ignore_errors=True)

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.close()

    def client(self, customer, server):
        client = Client(server, customer.api_key, customer.api_secret)
        self.clients.append(client)
        return client

    def assert_error(self, reply, status, error_code):
        self.assertEqual(reply.status, status, reply)
        self.assertEqual(reply.error_code, error_code, reply)

    def verification(self, client, verification_id):
        reply = client.get("/cash/v1/verifications/%s" % verification_id)
        self.assertEqual(reply.status, 200, reply)
        return reply.json

    def state(self, client):
        """Balance, ledger entries and withdrawals of the client's account."""
        return (client.balance(), [e["historyId"] for e in client.history()],
                [(w["withdrawId"], w["status"]) for w in client.withdrawals()])

    def test_concurrent_withdrawals_across_processes(self):
        customer = make_customer(self.many[0], balance=BALANCE)
        clients = [self.client(customer, self.many[i % 3]) for i in range(REQUESTS)]
        # Verified on one process, spent through all three.
        verification_id = verify(clients[1], self.many[1])
        for client in clients:
            self.assertEqual(client.get("/cash/v1/balance").status, 200)  # connections open
        replies = run_together([lambda c=client: c.withdraw(TOTAL) for client in clients])

        succeeded = [r for r in replies if r.status == 200]
        expected = BALANCE // TOTAL
        self.assertEqual(len(succeeded), expected, [r for r in replies if r.status != 200][:3])
        for reply in replies:
            if reply.status != 200:
                self.assert_error(reply, 400, "NotEnoughBalance")

        ids = sorted(r.json["withdrawId"] for r in succeeded)
        self.assertEqual(len(set(ids)), expected)
        for index, server in enumerate(self.many):
            reader = self.client(customer, server)
            self.assertEqual(reader.balance(), BALANCE - expected * TOTAL, "process %d" % index)
        owner = clients[0]
        self.assertEqual(sorted(w["withdrawId"] for w in owner.withdrawals()), ids)
        history = owner.history()
        self.assertEqual(len(history), expected + 1)
        self.assertEqual(sum(entry["balanceAmount"] for entry in history),
                         BALANCE - expected * TOTAL)
        debits = sorted(entry["newBalance"] for entry in history if entry["type"] == "WITHDRAW")
        self.assertEqual(debits, [BALANCE - TOTAL * i for i in range(expected, 0, -1)])
        # Only the committed withdrawals spent a use of the one verification.
        self.assertEqual(self.verification(owner, verification_id)["usesLeft"], USES - expected)
        ledger = run_ctl(self.db, "ledger", "verify")
        self.assertEqual(ledger.code, 0, ledger)

    def test_one_signed_request_sent_to_two_processes_is_accepted_once(self):
        customer = make_customer(self.many[0], balance=100000)
        first = self.client(customer, self.many[0])
        second = self.client(customer, self.many[1])
        verify(first, self.many[0])
        for client in (first, second):
            client.get("/cash/v1/balance")
        header = first.sign()
        body = {"amount": 20000}
        replies = run_together([
            lambda: first.post("/cash/v1/withdraw", body, headers={"Authorization": header},
                               auth=False),
            lambda: second.post("/cash/v1/withdraw", body, headers={"Authorization": header},
                                auth=False),
        ])
        statuses = sorted(reply.status for reply in replies)
        self.assertEqual(statuses, [200, 403], replies)
        refused = [reply for reply in replies if reply.status == 403][0]
        self.assert_error(refused, 403, "DuplicatedSignature")
        self.assertEqual(first.balance(), 80000)
        self.assertEqual(len(first.withdrawals()), 1)
        # Afterwards, on any process, sequentially: still refused.
        for server in self.many + self.once:
            again = self.client(customer, server).get("/cash/v1/balance",
                                                      headers={"Authorization": header},
                                                      auth=False)
            self.assert_error(again, 403, "DuplicatedSignature")

    def test_a_verification_with_one_use_authorises_one_request_in_total(self):
        customer = make_customer(self.once[0], balance=100000)
        clients = [self.client(customer, self.once[i % 2]) for i in range(8)]
        verification_id = verify(clients[0], self.once[0])
        for client in clients:
            client.get("/cash/v1/balance")
        replies = run_together([lambda c=client: c.withdraw(5000) for client in clients])
        self.assertEqual(sorted(reply.status for reply in replies), [200] + [403] * 7, replies)
        for reply in replies:
            if reply.status != 200:
                self.assert_error(reply, 403, "SecondFactorRequired")
        self.assertEqual(clients[1].balance(), 95000)
        self.assertEqual(self.verification(clients[1], verification_id)["usesLeft"], 0)

    def test_database_failure_under_a_request(self):
        server = self.many[0]
        customer = make_customer(server, balance=100000)
        client = self.client(customer, server)
        verification_id = verify(client, server)
        before = self.state(client)
        uses_before = self.verification(client, verification_id)["usesLeft"]

        fault = PostgresqlFault(self, customer) if self.db.mode == "postgresql" \
            else SqliteFault(self, customer)
        reply = fault.fail_under(lambda: client.withdraw(30000))
        self.assert_error(reply, 503, "ServiceUnavailable")

        # Nothing half-written: not the debit, the ledger entry, the withdrawal, nor the use of
        # the verification that the request had already spent inside its transaction.
        reader = self.client(customer, self.many[1])
        self.assertEqual(self.state(reader), before)
        self.assertEqual(self.verification(reader, verification_id)["usesLeft"], uses_before)
        rows = self.db.execute("SELECT COUNT(*) FROM withdrawals WHERE account_id = '%s'"
                               % customer.account_id)
        self.assertEqual(rows, [["0"]])

        # The pool recovers: the same process serves the next requests, on new connections,
        # also after every connection it holds is closed by the server while idle.
        self.assertEqual(client.balance(), 100000)
        fault.drop_every_connection()
        for _ in range(3):
            self.assertEqual(client.balance(), 100000)
        done = client.withdraw(30000)
        self.assertEqual(done.status, 200, done)
        self.assertEqual(reader.balance(), 70000)
        for other in self.many + self.once:
            self.assertEqual(self.client(customer, other).balance(), 70000)
        self.assertEqual(run_ctl(self.db, "ledger", "verify").code, 0)
        for line in fault.log_lines:
            self.assertIn(line, server.log_text())

    def test_a_transaction_the_database_aborts_runs_again(self):
        server = self.many[2]
        customer = make_customer(server, balance=100000)
        client = self.client(customer, server)
        verification_id = verify(client, server)
        uses_before = self.verification(client, verification_id)["usesLeft"]
        contention = PostgresqlDeadlock(self, customer, verification_id) \
            if self.db.mode == "postgresql" else SqliteContention(self)
        reply = contention.contend(lambda: client.withdraw(30000, verification_id))
        self.assertEqual(reply.status, 200, reply)
        # Run again from the start, and once in effect: one debit, one use.
        self.assertEqual(client.balance(), 70000)
        self.assertEqual(len(client.withdrawals()), 1)
        self.assertEqual(self.verification(client, verification_id)["usesLeft"], uses_before - 1)
        self.assertEqual(run_ctl(self.db, "ledger", "verify").code, 0)


class PsqlSession:
    """A psql process of its own: statements sent in order, each one's end waited for."""

    def __init__(self, url, stop_on_error=True):
        self.process = subprocess.Popen(["psql", url, "-X", "-q", "-v",
                                         "ON_ERROR_STOP=%d" % (1 if stop_on_error else 0)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.lines = queue.Queue()
        self.marks = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def send(self, sql):
        """Sends sql and returns at once; wait(mark) waits for it to have run."""
        self.marks += 1
        self.process.stdin.write("%s\n\\echo mark-%d\n" % (sql, self.marks))
        self.process.stdin.flush()
        return self.marks

    def wait(self, mark, timeout=WAIT_SECONDS):
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if line is None:
                raise AssertionError("psql ended (a statement failed?)")
            if line == "mark-%d" % mark:
                return

    def close(self):
        """Ends the session; the server rolls back what it left open."""
        if self.process.poll() is None:
            self.process.stdin.write("\\q\n")
            self.process.stdin.close()
            try:
                self.process.wait(timeout=CTL_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=CTL_TIMEOUT_SECONDS)
        self.process.stdout.close()


def waiting_cashd_backends(db):
    """The pids of cashd's connections that wait for a lock."""
    rows = db.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                      " AND application_name = 'cashd' AND wait_event_type = 'Lock'")
    return [row[0] for row in rows]


def wait_for_waiting_backend(test):
    deadline = time.monotonic() + WAIT_SECONDS
    waiting = waiting_cashd_backends(test.db)
    while not waiting and time.monotonic() < deadline:
        time.sleep(0.05)
        waiting = waiting_cashd_backends(test.db)
    test.assertEqual(len(waiting), 1, "one cashd connection waits for the lock")
    return waiting[0]


class PostgresqlDeadlock:
    """A deadlock with the request's transaction: another session holds the account's row, the
    request (having locked its verification) waits for it, and that session then asks for the
    verification's row. PostgreSQL aborts the transaction that waited longer, the request's, with
    40P01; cashd runs it again, and it goes through once the other session ends. (The run again
    may take the verification's row before the other session does: that is a second deadlock, in
    which the other session has waited longer and is the one aborted.)"""

    def __init__(self, test, customer, verification_id):
        self.test = test
        self.db = test.db
        self.customer = customer
        self.verification_id = verification_id

    def deadlocks(self):
        rows = self.db.execute("SELECT deadlocks FROM pg_stat_database"
                               " WHERE datname = current_database()")
        return int(rows[0][0])

    def contend(self, request):
        deadlocks_before = self.deadlocks()
        session = PsqlSession(self.db.url, stop_on_error=False)
        replies = []
        thread = threading.Thread(target=lambda: replies.append(request()))
        try:
            session.wait(session.send("BEGIN; SELECT 1 FROM accounts WHERE account_id = '%s'"
                                      " FOR UPDATE;" % self.customer.account_id))
            thread.start()
            wait_for_waiting_backend(self.test)
            # Waits for the verification's row until the request's transaction is aborted.
            session.wait(session.send("SELECT 1 FROM verifications WHERE verification_id = '%s'"
                                      " FOR UPDATE;" % self.verification_id))
            session.wait(session.send("ROLLBACK;"))
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS)
        finally:
            session.close()
        self.test.assertEqual(len(replies), 1)
        # The server counted the deadlock (its statistics arrive within a second or so).
        deadline = time.monotonic() + WAIT_SECONDS
        while self.deadlocks() == deadlocks_before and time.monotonic() < deadline:
            time.sleep(0.2)
        self.test.assertIn(self.deadlocks() - deadlocks_before, (1, 2))
        return replies[0]


class SqliteContention:
    """SQLite has one writer at a time: another process holds the write lock for a while, and
    the request waits for it (busy timeout) instead of failing."""

    HOLD_SECONDS = 1.5

    def __init__(self, test):
        self.test = test
        self.db = test.db

    def contend(self, request):
        holder = subprocess.Popen(["python3", "-c", SQLITE_HOLDER, self.db.path,
                                   str(self.HOLD_SECONDS)], stdout=subprocess.PIPE, text=True)
        try:
            self.test.assertEqual(holder.stdout.readline().strip(), "locked")
            reply = request()
            self.test.assertEqual(holder.wait(timeout=CTL_TIMEOUT_SECONDS), 0)
            return reply
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
            holder.stdout.close()


# Holds SQLite's write lock (argv[1]: the file) for argv[2] seconds.
SQLITE_HOLDER = (
    "import sqlite3, sys, time\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "c.execute('BEGIN IMMEDIATE')\n"
    "c.execute('UPDATE accounts SET recharge_try_count = recharge_try_count')\n"
    "print('locked', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "c.execute('ROLLBACK')\n")


class PostgresqlFault:
    """Holds the account's row lock in a psql session of its own, so that the request's
    transaction waits on it, then terminates that transaction's connection from a superuser
    connection (pg_terminate_backend)."""

    # What cashd's log tells: the transaction's connection lost, idle ones found closed.
    log_lines = ["the PostgreSQL connection was lost", "closing a broken PostgreSQL connection",
                 "was closed by the server; reconnecting"]

    def __init__(self, test, customer):
        self.test = test
        self.db = test.db
        self.customer = customer

    def sql(self, statement):
        return self.db.execute(statement)

    def fail_under(self, request):
        session = PsqlSession(self.db.url)
        replies = []
        thread = threading.Thread(target=lambda: replies.append(request()))
        try:
            session.wait(session.send("BEGIN; SELECT 1 FROM accounts WHERE account_id = '%s'"
                                      " FOR UPDATE;" % self.customer.account_id))
            thread.start()
            pid = wait_for_waiting_backend(self.test)
            self.test.assertEqual(self.sql("SELECT pg_terminate_backend(%s)" % pid), [["t"]])
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS)
        finally:
            session.close()
        self.test.assertEqual(len(replies), 1)
        return replies[0]

    def drop_every_connection(self):
        """Every pooled connection of every cashd on the database is closed by the server, and
        gone once this returns: pg_terminate_backend only signals the backend, which then exits,
        so until it has, a connection may still look alive."""
        pids = [row[0] for row in self.sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'cashd'")]
        self.test.assertGreater(len(pids), 0)
        listed = ", ".join(pids)
        self.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (%s)"
                 % listed)
        deadline = time.monotonic() + REQUEST_TIMEOUT_SECONDS
        while self.sql("SELECT COUNT(*) FROM pg_stat_activity WHERE pid IN (%s)"
                       % listed) != [["0"]]:
            self.test.assertLess(time.monotonic(), deadline, "the backends did not exit")
            time.sleep(0.05)


class SqliteFault:
    """Holds SQLite's write lock in a process of its own past cashd's DB_TIMEOUT_MS (10 s)."""

    HOLD_SECONDS = 14
    log_lines = ["the database stayed busy"]

    def __init__(self, test, customer):
        self.test = test
        self.db = test.db
        self.customer = customer

    def fail_under(self, request):
        holder = subprocess.Popen(["python3", "-c", SQLITE_HOLDER, self.db.path,
                                   str(self.HOLD_SECONDS)], stdout=subprocess.PIPE, text=True)
        try:
            self.test.assertEqual(holder.stdout.readline().strip(), "locked")
            reply = request()
            self.test.assertEqual(holder.wait(timeout=CTL_TIMEOUT_SECONDS), 0)
            return reply
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
            holder.stdout.close()

    def drop_every_connection(self):
        """SQLite has no server to drop connections: nothing more to break."""


if __name__ == "__main__":
    unittest.main()
