"""Idempotency-Key (docs/API.md): on every POST and DELETE, scoped to the API key; the same
request again replays the first answer (Idempotent-Replayed: true) and does nothing else, another
request with the key is 422, a key in flight is 409, and a request that did not commit keeps
nothing, so it can be sent again with its key."""

import unittest

from cashtest import Client, Server, ServerTestCase, ctl_ok, snapshot

TOTAL = 20000
CONCURRENT = 50


class IdempotencyTest(ServerTestCase):
    server_env = {"CASHD_THREADS": "8", "CASHD_VERIFICATION_MAX_USES": "100"}

    def keyed(self, key):
        return {"Idempotency-Key": key}

    def withdraw(self, client, amount, key, verification_id):
        return client.post("/cash/v1/withdraw", {"amount": amount},
                           headers={"Idempotency-Key": key, "X-Verification-Id": verification_id})

    def kept_keys(self, customer):
        return self.server.db.execute(
            "SELECT idempotency_key, answer_status, sealed_answer FROM idempotency_keys"
            " WHERE api_key = '%s' ORDER BY idempotency_key" % customer.api_key)

    def test_same_request_replays_the_first_answer(self):
        customer, client = self.new_client(balance=3 * TOTAL)
        verification = self.verify(client)
        first = self.withdraw(client, TOTAL, "order-1", verification)
        self.assertEqual(first.status, 200, first)
        self.assertNotIn("idempotent-replayed", first.headers)
        before = snapshot(client)
        # the same request, signed afresh, with the key: the first answer, nothing done again
        for _ in range(3):
            again = self.withdraw(client, TOTAL, "order-1", verification)
            self.assertEqual(again.status, 200, again)
            self.assertEqual(again.body, first.body)
            self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual(snapshot(client), before)
        self.assertEqual(client.balance(), 2 * TOTAL)
        # the same body with other spacing and key order is the same request
        spaced = client.post("/cash/v1/withdraw", '{ "amount" :  %d }' % TOTAL,
                             headers={"Idempotency-Key": "order-1",
                                      "X-Verification-Id": verification})
        self.assertEqual(spaced.status, 200, spaced)
        self.assertEqual(spaced.body, first.body)
        # the second factor was spent once
        uses = self.server.db.execute("SELECT uses FROM verifications WHERE verification_id = '%s'"
                                      % verification)
        self.assertEqual(uses, [["1"]])
        # a new key is a new withdrawal
        other = self.withdraw(client, TOTAL, "order-2", verification)
        self.assertEqual(other.status, 200, other)
        self.assertNotEqual(other.json["withdrawId"], first.json["withdrawId"])
        self.assertEqual(client.balance(), TOTAL)

    def test_another_request_with_the_key_is_refused(self):
        customer, client = self.new_client(balance=3 * TOTAL)
        verification = self.verify(client)
        first = self.withdraw(client, TOTAL, "k-422", verification)
        self.assertEqual(first.status, 200, first)
        before = snapshot(client)
        other_amount = self.withdraw(client, TOTAL + 1000, "k-422", verification)
        self.assert_error(other_amount, 422, "IdempotencyKeyReused")
        other_path = client.post("/cash/v1/withdraw/%s/cancel" % first.json["withdrawId"],
                                 headers=self.keyed("k-422"))
        self.assert_error(other_path, 422, "IdempotencyKeyReused")
        self.assertEqual(snapshot(client), before)

    def test_keys_are_scoped_to_the_api_key(self):
        first_customer, first = self.new_client(balance=TOTAL)
        second_customer, second = self.new_client(balance=TOTAL)
        a = self.withdraw(first, TOTAL, "shared-key", self.verify(first))
        b = self.withdraw(second, TOTAL, "shared-key", self.verify(second))
        self.assertEqual((a.status, b.status), (200, 200), (a, b))
        self.assertNotIn("idempotent-replayed", b.headers)
        self.assertEqual(b.json["accountId"], second_customer.account_id)
        self.assertEqual((first.balance(), second.balance()), (0, 0))

    def test_a_request_that_did_not_commit_keeps_nothing(self):
        customer, client = self.new_client(balance=TOTAL - 1)
        verification = self.verify(client)
        refused = self.withdraw(client, TOTAL, "retry-me", verification)
        self.assert_error(refused, 400, "NotEnoughBalance")
        self.assertEqual(self.kept_keys(customer), [])
        ctl_ok(self.server.db, "balance", "credit", customer.account_id, 1, "--memo", "top up")
        again = self.withdraw(client, TOTAL, "retry-me", verification)
        self.assertEqual(again.status, 200, again)
        self.assertNotIn("idempotent-replayed", again.headers)
        self.assertEqual(client.balance(), 0)

    def race_one_key(self, clients, verification):
        """Every client withdraws with the key "one-key" at once; asserts that exactly one
        withdrawal happened and every other answer replays it or says the key is in use."""
        for client in clients:
            client.get("/cash/v1/balance")  # open every connection before the race
        replies = self.run_concurrently(
            clients, lambda i, client: self.withdraw(client, TOTAL, "one-key", verification))
        done = [r for r in replies if r.status == 200]
        fresh = [r for r in done if "idempotent-replayed" not in r.headers]
        for reply in replies:
            if reply.status != 200:
                self.assert_error(reply, 409, "IdempotencyKeyInUse")
        self.assertEqual(len(fresh), 1, replies)
        self.assertEqual({r.body for r in done}, {fresh[0].body})
        self.assertEqual(len(clients[0].withdrawals()), 1)
        # once it committed, the key replays for everyone
        late = self.withdraw(clients[-1], TOTAL, "one-key", verification)
        self.assertEqual(late.status, 200, late)
        self.assertEqual(late.body, fresh[0].body)

    def test_concurrent_requests_with_one_key_withdraw_once(self):
        customer = self.customer(balance=CONCURRENT * TOTAL)
        clients = [self.client_of(customer) for _ in range(CONCURRENT)]
        self.race_one_key(clients, self.verify(clients[0]))
        self.assertEqual(clients[0].balance(), (CONCURRENT - 1) * TOTAL)

    def test_one_key_across_processes(self):
        other = Server(env=self.server_env, db=self.server.db).start()
        try:
            customer = self.customer(balance=CONCURRENT * TOTAL)
            clients = [self.client_of(customer) for _ in range(CONCURRENT // 2)]
            for _ in range(CONCURRENT // 2):
                client = Client(other, customer.api_key, customer.api_secret)
                self.clients.append(client)
                clients.append(client)
            self.race_one_key(clients, self.verify(clients[0]))
            self.assertEqual(clients[0].balance(), (CONCURRENT - 1) * TOTAL)
        finally:
            self.assertEqual(other.stop(), 0)

    def test_malformed_keys_are_refused_and_change_nothing(self):
        customer, client = self.new_client(balance=TOTAL)
        verification = self.verify(client)
        before = snapshot(client)
        for key in ["", " ", "x" * 256, "two words", "tab\there", "caf\u00e9".encode("utf-8"),
                    "bell\x07"]:
            reply = self.withdraw(client, TOTAL, key, verification)
            self.assert_error(reply, 400, "ValidationError", mentions="Idempotency-Key")
        self.assertEqual(snapshot(client), before)
        self.assertEqual(self.kept_keys(customer), [])
        longest = self.withdraw(client, TOTAL, "k" * 255, verification)
        self.assertEqual(longest.status, 200, longest)

    def test_a_read_ignores_the_key(self):
        customer, client = self.new_client(balance=TOTAL)
        for _ in range(2):
            reply = client.get("/cash/v1/balance", headers=self.keyed("read-key"))
            self.assertEqual(reply.status, 200, reply)
            self.assertNotIn("idempotent-replayed", reply.headers)
        # even a malformed one: a read is safe to repeat
        reply = client.get("/cash/v1/balance", headers=self.keyed("two words"))
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(self.kept_keys(customer), [])

    def test_a_replay_still_needs_a_fresh_signature(self):
        customer, client = self.new_client(balance=2 * TOTAL)
        verification = self.verify(client)
        headers = {"Idempotency-Key": "sig", "X-Verification-Id": verification,
                   "Authorization": client.sign()}
        first = client.post("/cash/v1/withdraw", {"amount": TOTAL}, headers=headers, auth=False)
        self.assertEqual(first.status, 200, first)
        again = client.post("/cash/v1/withdraw", {"amount": TOTAL}, headers=headers, auth=False)
        self.assert_error(again, 403, "DuplicatedSignature")
        self.assertEqual(client.balance(), TOTAL)

    def test_cancel_refunds_once(self):
        customer, client = self.new_client(balance=TOTAL)
        created = self.withdraw(client, TOTAL, "create", self.verify(client))
        path = "/cash/v1/withdraw/%s/cancel" % created.json["withdrawId"]
        first = client.post(path, headers=self.keyed("cancel"))
        self.assertEqual(first.status, 200, first)
        self.assertEqual(first.json["status"], "CANCELED")
        again = client.post(path, headers=self.keyed("cancel"))
        self.assertEqual((again.status, again.body), (200, first.body))
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        # without the key the cancel is refused: the withdrawal is no longer cancelable
        self.assert_error(client.post(path), 409, "InvalidStatus")
        self.assertEqual(client.balance(), TOTAL)
        refunds = [e for e in client.history() if e["type"] == "WITHDRAW_REFUND"]
        self.assertEqual(len(refunds), 1)

    def test_bank_account_writes(self):
        customer, client = self.new_client(bank=False)
        verification = self.verify(client)
        body = {"bankCode": "004", "accountNumber": "110-222-333444", "holderName": "Kim"}
        headers = {"Idempotency-Key": "bank-set", "X-Verification-Id": verification}
        first = client.post("/cash/v1/bank/accounts", body, headers=headers)
        self.assertEqual(first.status, 200, first)
        again = client.post("/cash/v1/bank/accounts", body, headers=headers)
        self.assertEqual((again.status, again.body), (200, first.body))
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        changed = dict(body, holderName="Lee")
        self.assert_error(client.post("/cash/v1/bank/accounts", changed, headers=headers), 422,
                          "IdempotencyKeyReused")
        headers = {"Idempotency-Key": "bank-delete", "X-Verification-Id": verification}
        removed = client.delete("/cash/v1/bank/accounts", headers=headers)
        self.assertEqual(removed.status, 200, removed)
        removed_again = client.delete("/cash/v1/bank/accounts", headers=headers)
        self.assertEqual((removed_again.status, removed_again.body), (200, removed.body))
        self.assertEqual(removed_again.headers.get("idempotent-replayed"), "true")
        self.assert_error(client.get("/cash/v1/bank/accounts"), 404, "NotFound")

    def test_verifications(self):
        customer, client = self.new_client()
        created = client.post("/cash/v1/verifications", {"method": "EMAIL_OTP"},
                              headers=self.keyed("verify"))
        self.assertEqual(created.status, 200, created)
        again = client.post("/cash/v1/verifications", {"method": "EMAIL_OTP"},
                            headers=self.keyed("verify"))
        self.assertEqual((again.status, again.body), (200, created.body))
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        count = self.server.db.execute("SELECT COUNT(*) FROM verifications WHERE member_id = '%s'"
                                       % customer.member_id)
        self.assertEqual(count, [["1"]])
        verification_id = created.json["verificationId"]
        code = self.server.code_for(verification_id)
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        path = "/cash/v1/verifications/%s/confirm" % verification_id
        refused = client.post(path, {"code": wrong}, headers=self.keyed("wrong"))
        self.assert_error(refused, 400, "InvalidVerificationCode")
        refused_again = client.post(path, {"code": wrong}, headers=self.keyed("wrong"))
        self.assertEqual((refused_again.status, refused_again.body), (400, refused.body))
        self.assertEqual(refused_again.headers.get("idempotent-replayed"), "true")
        attempts = self.server.db.execute(
            "SELECT attempts FROM verifications WHERE verification_id = '%s'" % verification_id)
        self.assertEqual(attempts, [["1"]])  # the wrong code counted once
        confirmed = client.post(path, {"code": code}, headers=self.keyed("right"))
        self.assertEqual(confirmed.status, 200, confirmed)
        self.assertEqual(confirmed.json["status"], "CONFIRMED")

    def test_kept_answers_are_sealed(self):
        customer, client = self.new_client(balance=TOTAL)
        created = self.withdraw(client, TOTAL, "sealed", self.verify(client))
        self.assertEqual(created.status, 200, created)
        [[key, status, sealed]] = self.kept_keys(customer)
        self.assertEqual((key, status), ("sealed", "200"))
        self.assertNotIn(created.json["withdrawId"], sealed)
        self.assertNotIn("accountNumber", sealed)


if __name__ == "__main__":
    unittest.main()
