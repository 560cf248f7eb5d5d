"""Concurrency (SPEC 3, 5): the balance never goes below zero and a verification is never spent
more often than allowed, whatever the number of concurrent requests."""

import unittest

from cashtest import ServerTestCase

K = 10
TOTAL = 20000


class RaceTest(ServerTestCase):
    server_env = {"CASHD_THREADS": "8", "CASHD_VERIFICATION_MAX_USES": "3"}

    def test_balance_for_exactly_k_withdrawals(self):
        customer = self.customer(balance=K * TOTAL)
        clients = [self.client_of(customer) for _ in range(3 * K)]
        verifications = [self.verify(client) for client in clients]
        for client in clients:
            client.get("/cash/v1/balance")  # open every connection before the race
        replies = self.run_concurrently(
            clients, lambda i, client: client.withdraw(TOTAL, verifications[i]))
        succeeded = [r for r in replies if r.status == 200]
        refused = [r for r in replies if r.status != 200]
        self.assertEqual(len(succeeded), K, replies)
        for reply in refused:
            self.assert_error(reply, 400, "NotEnoughBalance")
        self.assertEqual(len({r.json["withdrawId"] for r in succeeded}), K)
        owner = clients[0]
        self.assertEqual(owner.balance(), 0)
        listed = owner.withdrawals()
        self.assertEqual(sorted(w["withdrawId"] for w in listed),
                         sorted(r.json["withdrawId"] for r in succeeded))
        history = owner.history()
        self.assertEqual(len(history), K + 1)
        self.assertEqual(sum(entry["balanceAmount"] for entry in history), 0)
        self.assertEqual(sorted(entry["newBalance"] for entry in history if entry["type"]
                                == "WITHDRAW"), [TOTAL * i for i in range(K)])
        ledger = self.server.ctl("ledger", "verify")
        self.assertEqual(ledger.code, 0, ledger)

    def test_two_requests_for_the_last_won(self):
        for _ in range(3):
            customer = self.customer(balance=TOTAL)
            clients = [self.client_of(customer) for _ in range(2)]
            verifications = [self.verify(client) for client in clients]
            replies = self.run_concurrently(
                clients, lambda i, client: client.withdraw(TOTAL, verifications[i]))
            self.assertEqual(sorted(r.status for r in replies), [200, 400], replies)
            self.assertEqual(clients[0].balance(), 0)

    def test_one_verification_is_spent_at_most_max_uses_times(self):
        customer = self.customer(balance=100 * TOTAL)
        clients = [self.client_of(customer) for _ in range(10)]
        verification_id = self.verify(clients[0])
        for client in clients:
            client.get("/cash/v1/balance")
        replies = self.run_concurrently(
            clients, lambda i, client: client.withdraw(TOTAL, verification_id))
        succeeded = [r for r in replies if r.status == 200]
        self.assertEqual(len(succeeded), 3, replies)
        for reply in replies:
            if reply.status != 200:
                self.assert_error(reply, 403, "SecondFactorRequired")
        self.assertEqual(clients[0].balance(), 97 * TOTAL)
        state = clients[0].get("/cash/v1/verifications/%s" % verification_id).json
        self.assertEqual(state["usesLeft"], 0)

    def test_concurrent_cancels_refund_once(self):
        customer = self.customer(balance=TOTAL)
        clients = [self.client_of(customer) for _ in range(6)]
        self.verify(clients[0])
        created = clients[0].withdraw(TOTAL)
        self.assertEqual(created.status, 200, created)
        path = "/cash/v1/withdraw/%s/cancel" % created.json["withdrawId"]
        replies = self.run_concurrently(clients, lambda i, client: client.post(path))
        self.assertEqual(sorted(r.status for r in replies), [200] + [409] * 5, replies)
        self.assertEqual(clients[0].balance(), TOTAL)
        refunds = [e for e in clients[0].history() if e["type"] == "WITHDRAW_REFUND"]
        self.assertEqual(len(refunds), 1)

    def test_concurrent_signatures_are_accepted_once(self):
        customer = self.customer(balance=0)
        clients = [self.client_of(customer) for _ in range(8)]
        header = clients[0].sign()
        replies = self.run_concurrently(
            clients, lambda i, client: client.raw("GET", "/cash/v1/balance",
                                                  headers={"Authorization": header}))
        self.assertEqual(sorted(r.status for r in replies), [200] + [403] * 7, replies)
        for reply in replies:
            if reply.status == 403:
                self.assert_error(reply, 403, "DuplicatedSignature")


if __name__ == "__main__":
    unittest.main()
