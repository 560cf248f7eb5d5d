"""Graceful shutdown (http.h: "Stops accepting, finishes the requests in flight"; cashd.c): on
SIGTERM cashd takes no new request, lets the requests in flight finish - a slow client still
sending its body, many concurrent withdrawals - within HTTP_CONNECTION_TIMEOUT_SECONDS, and exits 0.
Nothing is half-done: every withdrawal answered 200 has its row, no row exists that nobody was
answered for, and `cashctl ledger verify` passes.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from cashtest import STOP_TIMEOUT_SECONDS, Server, ctl_json, make_customer, verify

# libmicrohttpd reads a request's headers within a poll round; this leaves it ample time.
SEEN_SECONDS = 1.0
NEW_CONNECTION_WAIT_SECONDS = 3
WORKERS = 8
LOAD_SECONDS = 1.5
ROUNDS = 3
HANG_UPS = 30
# Far below HTTP_CONNECTION_TIMEOUT_SECONDS (30), which is what a missed hang-up costs.
HANG_UP_STOP_SECONDS_MAX = 15
CREDIT = 30000000


def exit_code_within(server, seconds):
    """Waits for cashd's exit; its code, or None if it is still running after seconds."""
    try:
        return server.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


class ShutdownTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(env={"CASHD_THREADS": "4", "CASHD_VERIFICATION_MAX_USES": "100"})
        self.server.start()
        self.sockets = []

    def tearDown(self):
        for sock in self.sockets:
            sock.close()
        if self.server.process is not None:
            self.server.stop()
        shutil.rmtree(self.server.db.dir, ignore_errors=True)

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        self.sockets.append(sock)
        return sock

    def finish(self):
        """cashd has exited 0; returns the withdrawals in the database, by id."""
        code = self.server.stop()
        self.assertEqual(code, 0, self.server.log_text()[-3000:])
        ledger = self.server.ctl("ledger", "verify")
        self.assertEqual(ledger.code, 0, ledger)
        return {w["withdrawId"]: w for w in ctl_json(self.server.db, "withdraw", "list")}

    def test_a_slow_upload_in_flight_is_finished(self):
        customer = make_customer(self.server, balance=100000)
        client = customer.client()
        verify(client, self.server)
        client.close()  # from here it only signs
        body = json.dumps({"amount": 20000}).encode()
        sock = self.connect()
        sock.sendall(b"POST /cash/v1/withdraw HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Authorization: %s\r\n\r\n" % (len(body), client.sign().encode()) +
                     body[:5])
        time.sleep(SEEN_SECONDS)
        self.server.process.send_signal(signal.SIGTERM)
        time.sleep(SEEN_SECONDS)
        self.assertIsNone(self.server.process.poll(), "cashd waits for the request in flight")
        self.assert_new_connection_not_served()
        sock.sendall(body[5:])
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        answer = json.loads(reply.read())
        self.assertEqual(reply.status, 200, answer)
        stored = self.finish()
        self.assertEqual(list(stored), [answer["withdrawId"]])
        self.assertEqual(stored[answer["withdrawId"]]["totalAmount"], 20000)

    @unittest.skipIf(os.environ.get("CASHD_TEST_DB", "sqlite") != "sqlite",
                     "the bound is the HTTP layer's, whatever the database: the SQLite run has it")
    def test_a_stalled_upload_does_not_hold_shutdown_forever(self):
        customer = make_customer(self.server, balance=100000)
        client = customer.client()
        verify(client, self.server)
        client.close()  # from here it only signs
        sock = self.connect()
        sock.sendall(b"POST /cash/v1/withdraw HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 17\r\n"
                     b"Authorization: %s\r\n\r\n{\"amount\"" % client.sign().encode())
        time.sleep(SEEN_SECONDS)
        started = time.monotonic()
        self.server.process.send_signal(signal.SIGTERM)
        code = exit_code_within(self.server, STOP_TIMEOUT_SECONDS)
        self.assertEqual(code, 0, "cashd stops within its bound even if a client stalls")
        self.assertLess(time.monotonic() - started, STOP_TIMEOUT_SECONDS)
        self.assertEqual(self.finish(), {})

    def test_clients_that_hang_up_are_not_waited_for(self):
        """Clients that send part of a request and close at once are gone: cashd notices, holds
        no connection for them, and its stop does not wait for them."""
        customer = make_customer(self.server, balance=100000)
        client = customer.client()
        for _ in range(HANG_UPS):
            sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
            sock.sendall(b"POST /cash/v1/withdraw HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100\r\n"
                         b"Authorization: %s\r\n\r\n{\"amount\": 20000" % client.sign().encode())
            sock.close()
        started = time.monotonic()
        self.server.process.send_signal(signal.SIGTERM)
        code = exit_code_within(self.server, STOP_TIMEOUT_SECONDS)
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - started, HANG_UP_STOP_SECONDS_MAX,
                        "the stop waited for clients that had hung up:\n" +
                        self.server.log_text()[-2000:])
        self.assertEqual(self.finish(), {})

    def assert_new_connection_not_served(self):
        """After SIGTERM a new connection gets no answer: refused, or closed unanswered."""
        try:
            sock = self.connect()
            sock.settimeout(NEW_CONNECTION_WAIT_SECONDS)
            sock.sendall(b"GET /cash/v1/balance HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = sock.recv(4096)
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
            return
        except socket.timeout:
            return  # queued by the kernel, never taken: reset when cashd exits
        self.assertEqual(data, b"", "a request that came after SIGTERM was served")

    def test_concurrent_withdrawals_are_done_whole_or_not_at_all(self):
        customers = [make_customer(self.server, balance=CREDIT) for _ in range(2)]
        answered = {}
        for round_number in range(ROUNDS):
            if round_number > 0:
                self.server.start()
            answered.update(self.withdraw_until_sigterm(customers))
            stored = self.finish()
            for withdraw_id, withdrawal in answered.items():
                self.assertIn(withdraw_id, stored, "answered 200 but not stored")
                self.assertEqual(stored[withdraw_id]["totalAmount"], withdrawal["totalAmount"])
            self.assertEqual(set(stored) - set(answered), set(),
                             "round %d: withdrawals stored that nobody was answered for"
                             % round_number)
        self.server.start()  # to read the balances as a client does
        for customer in customers:
            client = customer.client()
            balance = client.balance()
            client.close()
            live = sum(w["totalAmount"] for w in answered.values()
                       if w["accountId"] == customer.account_id)
            self.assertEqual(balance + live, CREDIT)

    def withdraw_until_sigterm(self, customers):
        """WORKERS clients withdraw until SIGTERM stops cashd; the withdrawals answered 200."""
        outcomes = {"answered": {}, "unanswered": 0, "refused": 0, "late": 0, "errors": []}
        lock = threading.Lock()
        stop = threading.Event()

        def worker(customer):
            client = customer.client()
            try:
                verify(client, self.server)
                while not stop.is_set():
                    try:
                        reply = client.withdraw(1000 + 10 * (threading.get_ident() % 97))
                    except ConnectionRefusedError:
                        with lock:
                            outcomes["refused"] += 1
                        return
                    except (OSError, http.client.HTTPException):
                        with lock:
                            outcomes["unanswered"] += 1
                        return
                    with lock:
                        if reply.status == 200:
                            outcomes["answered"][reply.json["withdrawId"]] = reply.json
                        elif reply.error_code == "ServiceUnavailable":
                            outcomes["late"] += 1  # came after SIGTERM: not run, not stored
                        elif reply.error_code != "SecondFactorRequired":
                            outcomes["errors"].append(reply)
                    if reply.error_code == "SecondFactorRequired":
                        try:
                            verify(client, self.server)  # 100 uses, shared by the workers
                        except (OSError, http.client.HTTPException, AssertionError):
                            return  # cashd is stopping
            except Exception as error:  # reported below
                with lock:
                    outcomes["errors"].append(error)
            finally:
                client.close()

        threads = [threading.Thread(target=worker, args=(customers[i % len(customers)],))
                   for i in range(WORKERS)]
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS)
        self.server.process.send_signal(signal.SIGTERM)
        code = exit_code_within(self.server, STOP_TIMEOUT_SECONDS)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(code, 0, self.server.log_text()[-3000:])
        self.assertEqual(outcomes["errors"], [])
        self.assertGreater(len(outcomes["answered"]), WORKERS, "withdrawals went through")
        print("shutdown: %d withdrawals answered, %d answered 503 after SIGTERM, %d connections "
              "cut, %d refused" % (len(outcomes["answered"]), outcomes["late"],
                                   outcomes["unanswered"], outcomes["refused"]))
        return outcomes["answered"]


if __name__ == "__main__":
    unittest.main()
