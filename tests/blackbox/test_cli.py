"""cashctl (SPEC 6): every command, --json, and its errors. Needs no running cashd."""

import base64
import datetime
import hashlib
import hmac
import os
import re
import shutil
import stat
import unittest

from cashtest import Database, ctl_ok, new_tmpdir, run_ctl


class CliTestCase(unittest.TestCase):
    """A fresh, initialised database per test class."""

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        ctl_ok(cls.db, "init")

    @classmethod
    def tearDownClass(cls):
        verified = run_ctl(cls.db, "ledger", "verify")
        if verified.code != 0:
            raise AssertionError("ledger verify failed at the end: %r" % verified)
        shutil.rmtree(cls.db.dir, ignore_errors=True)

    def ctl(self, *args, **kwargs):
        return run_ctl(self.db, *args, **kwargs)

    def ok(self, *args):
        result = self.ctl(*args)
        self.assertEqual(result.code, 0, result)
        self.assertEqual(result.err, "", result)
        return result

    def fails(self, args, code=None, mentions=None):
        """The command fails with one line "cashctl: ..." on stderr and nothing on stdout."""
        result = self.ctl(*args)
        self.assertNotEqual(result.code, 0, result)
        if code is not None:
            self.assertEqual(result.code, code, result)
        self.assertEqual(result.out, "", result)
        lines = result.err.splitlines()
        self.assertEqual(len(lines), 1, result)
        self.assertTrue(lines[0].startswith("cashctl: "), result)
        if mentions is not None:
            self.assertIn(mentions, lines[0], result)
        return result

    def account(self, *args):
        account_id = self.ok("account", "create", *args).out.strip()
        self.assertRegex(account_id, r"^\d{14}$")
        return account_id

    def member(self, account_id, *args):
        member_id = self.ok("member", "add", account_id, "--email", "a@example.com", "--phone",
                            "+82-10-1234-5678", *args).out.strip()
        self.assertRegex(member_id, r"^\d{14}$")
        return member_id

    def assert_ledger_ok(self):
        result = self.ok("ledger", "verify")
        self.assertIn("ledger ok", result.out)


class InitTest(unittest.TestCase):
    def setUp(self):
        self.db = Database()

    def tearDown(self):
        shutil.rmtree(self.db.dir, ignore_errors=True)

    def test_init_creates_a_private_key_file_and_is_idempotent(self):
        self.assertFalse(os.path.exists(self.db.key_file))
        first = run_ctl(self.db, "--json", "init")
        self.assertEqual(first.code, 0, first)
        info = first.json()
        self.assertIsInstance(info["schemaVersion"], int)
        self.assertGreaterEqual(info["schemaVersion"], 1)
        self.assertTrue(info["dataKeyCreated"])
        mode = stat.S_IMODE(os.stat(self.db.key_file).st_mode)
        self.assertEqual(mode, 0o600)
        with open(self.db.key_file) as handle:
            text = handle.read()
        self.assertEqual(len(text.strip().splitlines()), 1)
        self.assertEqual(len(base64.b64decode(text.strip(), validate=True)), 32)
        again = run_ctl(self.db, "--json", "init")
        self.assertEqual(again.code, 0, again)
        self.assertFalse(again.json()["dataKeyCreated"])
        self.assertEqual(again.json()["schemaVersion"], info["schemaVersion"])
        with open(self.db.key_file) as handle:
            self.assertEqual(handle.read(), text, "init must not replace an existing key")

    def test_plain_init_prints_nothing(self):
        result = run_ctl(self.db, "init")
        self.assertEqual((result.code, result.out, result.err), (0, "", ""))

    def test_init_refuses_a_world_readable_key_file(self):
        ctl_ok(self.db, "init")
        os.chmod(self.db.key_file, 0o644)
        result = run_ctl(self.db, "init")
        self.assertNotEqual(result.code, 0, result)
        self.assertTrue(result.err.startswith("cashctl: "), result)

    def test_default_database_and_key_file_are_in_the_working_directory(self):
        workdir = new_tmpdir("cwd-")
        try:
            result = run_ctl(None, "init", cwd=workdir)
            self.assertEqual(result.code, 0, result)
            self.assertTrue(os.path.exists(os.path.join(workdir, "cashd.db")))
            self.assertTrue(os.path.exists(os.path.join(workdir, "cashd.key")))
            created = run_ctl(None, "account", "create", cwd=workdir)
            self.assertEqual(created.code, 0, created)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def test_db_and_key_file_flags_before_or_after_the_command(self):
        env = {"CASHD_DB": "sqlite:/nonexistent-dir/x.db"}
        key_file = os.path.join(self.db.dir, "other.key")
        result = run_ctl(None, "--db", self.db.url, "--data-key-file", key_file, "init", env=env)
        self.assertEqual(result.code, 0, result)
        self.assertTrue(os.path.exists(key_file))
        self.assertFalse(os.path.exists(self.db.key_file))
        result = run_ctl(None, "account", "create", "--db=" + self.db.url, env=env)
        self.assertEqual(result.code, 0, result)
        self.assertRegex(result.out.strip(), r"^\d{14}$")

    def test_environment_names_the_database(self):
        env = {"CASHD_DB": self.db.url}
        result = run_ctl(None, "init", env=env)
        self.assertEqual(result.code, 0, result)
        # the key file is derived from the SQLite path: beside it
        if self.db.path is not None:
            self.assertTrue(os.path.exists(os.path.join(self.db.dir, "cashd.key")))


class UsageTest(CliTestCase):
    def test_help_lists_every_command(self):
        result = self.ok("--help")
        for command in ("init", "account create", "account set", "member add", "member set",
                        "apikey create", "apikey revoke", "balance credit", "bank set",
                        "withdraw list", "withdraw confirm", "withdraw reject", "withdraw show",
                        "ledger verify", "sign"):
            self.assertIn(command, result.out)

    def test_missing_command(self):
        self.fails([], code=2)

    def test_unknown_command(self):
        self.fails(["frobnicate"], code=2, mentions="unknown command")
        self.fails(["account", "delete", "1"], code=2, mentions="unknown command")

    def test_unknown_option(self):
        self.fails(["account", "create", "--colour", "blue"], code=2, mentions="--colour")

    def test_option_without_value(self):
        self.fails(["account", "create", "--status"], code=2)

    def test_repeated_option(self):
        self.fails(["account", "create", "--status", "ACTIVE", "--status", "INACTIVE"], code=2)

    def test_missing_and_extra_arguments(self):
        self.fails(["account", "set"], code=2)
        self.fails(["balance", "credit", "12345678901234"], code=2)
        self.fails(["apikey", "revoke"], code=2)
        self.fails(["init", "extra"], code=2)

    def test_withdraw_confirm_and_reject_say_what_is_missing(self):
        self.fails(["withdraw", "confirm", "1" * 32], code=2, mentions="--operator")
        self.fails(["withdraw", "reject", "1" * 32], code=2, mentions="--memo")
        self.fails(["withdraw", "confirm", "1" * 32, "--operator", "kim"], code=1,
                   mentions="no withdrawal")
        self.fails(["withdraw", "reject", "1" * 32, "--memo", "no"], code=1,
                   mentions="no withdrawal")

    def test_an_uninitialised_database_is_a_failure(self):
        db = Database()
        try:
            result = run_ctl(db, "account", "create")
            self.assertNotEqual(result.code, 0, result)
            # the store may log its own cause first; cashctl's line comes last
            self.assertTrue(result.err.splitlines()[-1].startswith("cashctl: "), result)
            self.assertIn("init", result.err.splitlines()[-1])
        finally:
            shutil.rmtree(db.dir, ignore_errors=True)

    def test_bad_configuration_in_the_environment(self):
        result = self.ctl("account", "create", env={"CASHD_DB": "nosuchscheme:x"})
        self.assertNotEqual(result.code, 0, result)
        self.assertTrue(result.err.startswith("cashctl: "), result)

    def test_an_unreachable_database_error_does_not_show_its_password(self):
        # port 1 on loopback: nothing listens there, the connection is refused at once
        url = "postgresql://cashd:hunter2secret@127.0.0.1:1/cashd"
        result = self.ctl("account", "create", env={"CASHD_DB": url})
        self.assertEqual(result.code, 1, result)
        self.assertIn("cannot open the database", result.err)
        self.assertNotIn("hunter2secret", result.err + result.out)


class AccountTest(CliTestCase):
    def test_create_defaults(self):
        info = self.ok("--json", "account", "create").json()
        self.assertRegex(info["accountId"], r"^\d{14}$")
        self.assertEqual(info["status"], "ACTIVE")
        self.assertEqual(info["verified"], "none")
        self.assertEqual(info["balance"], 0)
        # the first six digits are the UTC date, YYMMDD (src/common/ids.h)
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%y%m%d")
        yesterday = (datetime.datetime.now(datetime.timezone.utc)
                     - datetime.timedelta(minutes=5)).strftime("%y%m%d")
        self.assertIn(info["accountId"][:6], (today, yesterday))

    def test_create_with_options_and_json_after_the_command(self):
        info = self.ok("account", "create", "--status", "INACTIVE", "--verified", "business",
                       "--json").json()
        self.assertEqual((info["status"], info["verified"]), ("INACTIVE", "business"))

    def test_ids_are_unique(self):
        ids = {self.account() for _ in range(5)}
        self.assertEqual(len(ids), 5)

    def test_create_rejects_bad_values(self):
        self.fails(["account", "create", "--status", "active"], code=2, mentions="active")
        self.fails(["account", "create", "--status", "PENDING"], code=2)
        self.fails(["account", "create", "--verified", "yes"], code=2)

    def test_set(self):
        account_id = self.account()
        self.assertEqual(self.ok("account", "set", account_id, "--status", "INACTIVE").out, "")
        info = self.ok("--json", "account", "set", account_id, "--verified", "personal",
                       "--auto-recharge", "on").json()
        self.assertEqual(info["accountId"], account_id)
        self.assertEqual(info["status"], "INACTIVE")
        self.assertEqual(info["verified"], "personal")
        self.assertEqual(info["autoRecharge"], 1)
        info = self.ok("--json", "account", "set", account_id, "--auto-recharge", "off",
                       "--status", "DELETED").json()
        self.assertEqual((info["autoRecharge"], info["status"]), (0, "DELETED"))

    def test_set_errors(self):
        account_id = self.account()
        self.fails(["account", "set", account_id], code=2)
        self.fails(["account", "set", account_id, "--auto-recharge", "yes"], code=2)
        self.fails(["account", "set", account_id, "--status", "GONE"], code=2)
        self.fails(["account", "set", "123", "--status", "ACTIVE"], code=2, mentions="123")
        self.fails(["account", "set", "99999999999999", "--status", "ACTIVE"], code=1,
                   mentions="99999999999999")


class MemberTest(CliTestCase):
    def test_add_defaults(self):
        account_id = self.account()
        info = self.ok("--json", "member", "add", account_id, "--email", "kim@example.com",
                       "--phone", "01012345678").json()
        self.assertRegex(info["memberId"], r"^\d{14}$")
        self.assertEqual(info["accountId"], account_id)
        self.assertEqual((info["role"], info["status"]), ("OWNER", "ACTIVE"))
        self.assertEqual(info["email"], "kim@example.com")

    def test_add_with_role_and_status(self):
        account_id = self.account()
        for role in ("OWNER", "DEVELOPER", "MEMBER"):
            for status in ("UNVERIFIED", "ACTIVE", "INACTIVE", "DELETED"):
                info = self.ok("--json", "member", "add", account_id, "--email", "x@example.com",
                               "--phone", "010-0000-0000", "--role", role, "--status",
                               status).json()
                self.assertEqual((info["role"], info["status"]), (role, status))

    def test_add_errors(self):
        account_id = self.account()
        base = ["member", "add", account_id]
        self.fails(base + ["--phone", "0101234"], code=2, mentions="--email")
        self.fails(base + ["--email", "a@example.com"], code=2, mentions="--phone")
        for email in ("no-at-sign", "@example.com", "a@", "a@b", "a b@example.com",
                      "a@@example.com", "a@example.", "x" * 250 + "@example.com"):
            with self.subTest(email=email):
                self.fails(base + ["--email", email, "--phone", "01012345678"], code=2)
        for phone in ("", "abc", "010 1234 5678", "++8210", "010--1234", "-0101234", "0101234-",
                      "12", "1" * 21):
            with self.subTest(phone=phone):
                self.fails(base + ["--email", "a@example.com", "--phone", phone], code=2)
        ok = ["--email", "a@example.com", "--phone", "01012345678"]
        self.fails(base + ok + ["--role", "ADMIN"], code=2)
        self.fails(base + ok + ["--role", "owner"], code=2)
        self.fails(base + ok + ["--status", "PENDING"], code=2)
        self.fails(["member", "add", "99999999999999"] + ok, code=1, mentions="99999999999999")
        self.fails(["member", "add", "abc"] + ok, code=2)

    def test_set(self):
        member_id = self.member(self.account())
        self.assertEqual(self.ok("member", "set", member_id, "--role", "DEVELOPER").out, "")
        info = self.ok("--json", "member", "set", member_id, "--status", "INACTIVE").json()
        self.assertEqual((info["role"], info["status"]), ("DEVELOPER", "INACTIVE"))
        self.fails(["member", "set", member_id], code=2)
        self.fails(["member", "set", member_id, "--role", "BOSS"], code=2)
        self.fails(["member", "set", "99999999999999", "--role", "OWNER"], code=1)
        self.fails(["member", "set", "x", "--role", "OWNER"], code=2)


class ApiKeyTest(CliTestCase):
    def test_create_prints_key_and_secret(self):
        member_id = self.member(self.account())
        out = self.ok("apikey", "create", member_id).out
        self.assertRegex(out, r"^[A-Z0-9]{16} [A-Z0-9]{32}\n$")
        info = self.ok("--json", "apikey", "create", member_id, "--scopes", "cash:read").json()
        self.assertRegex(info["apiKey"], r"^[A-Z0-9]{16}$")
        self.assertRegex(info["apiSecret"], r"^[A-Z0-9]{32}$")
        self.assertEqual(info["memberId"], member_id)
        self.assertEqual(info["scopes"], "cash:read")

    def test_secret_is_stored_sealed(self):
        member_id = self.member(self.account())
        key, secret = self.ok("apikey", "create", member_id).out.split()
        stored = self.db.stored_bytes()
        self.assertTrue(stored)
        self.assertIn(key.encode(), stored)
        self.assertNotIn(secret.encode(), stored)

    def test_scopes(self):
        member_id = self.member(self.account())
        for scopes in ("cash:read", "cash:write", "cash:read,cash:write", "cash:write,cash:read"):
            with self.subTest(scopes=scopes):
                self.ok("apikey", "create", member_id, "--scopes", scopes)
        for scopes in ("", "cash:admin", "cash:read,", "read", "cash:read cash:write"):
            with self.subTest(scopes=scopes):
                self.fails(["apikey", "create", member_id, "--scopes", scopes], code=2)

    def test_create_errors(self):
        self.fails(["apikey", "create", "99999999999999"], code=1, mentions="99999999999999")
        self.fails(["apikey", "create", "12"], code=2)
        member_id = self.member(self.account())
        missing_key = os.path.join(self.db.dir, "missing.key")
        result = self.ctl("apikey", "create", member_id, env={"CASHD_DATA_KEY_FILE": missing_key})
        self.assertEqual(result.code, 1, result)
        self.assertIn(missing_key, result.err)

    def test_revoke(self):
        member_id = self.member(self.account())
        key, _ = self.ok("apikey", "create", member_id).out.split()
        self.assertEqual(self.ok("apikey", "revoke", key).out, "")
        info = self.ok("--json", "apikey", "revoke", key).json()
        self.assertEqual(info, {"apiKey": key, "revoked": True})
        self.fails(["apikey", "revoke", "ABCDEFGHIJKLMNOP"], code=1, mentions="ABCDEFGHIJKLMNOP")
        self.fails(["apikey", "revoke", "short"], code=2)
        self.fails(["apikey", "revoke", "abc!efghijklmnop"], code=2)


class BalanceTest(CliTestCase):
    def test_credit_prints_the_history_id(self):
        account_id = self.account()
        history_id = self.ok("balance", "credit", account_id, "5000").out.strip()
        self.assertRegex(history_id, r"^\d{32}$")
        entry = self.ok("--json", "balance", "credit", account_id, "2500", "--memo",
                        "bank transfer 김").json()
        self.assertRegex(entry["historyId"], r"^\d{32}$")
        self.assertGreater(entry["historyId"], history_id)
        self.assertEqual(entry["accountId"], account_id)
        self.assertEqual(entry["type"], "RECHARGE")
        self.assertEqual(entry["balanceAmount"], 2500)
        self.assertEqual((entry["oldBalance"], entry["newBalance"]), (5000, 7500))
        self.assertEqual(entry["memo"], "bank transfer 김")
        self.assertIsNone(entry["groupId"])
        self.assert_ledger_ok()

    def test_credit_bounds(self):
        account_id = self.account()
        entry = self.ok("--json", "balance", "credit", account_id, "1").json()
        self.assertEqual(entry["newBalance"], 1)
        entry = self.ok("--json", "balance", "credit", account_id, "1000000000000").json()
        self.assertEqual(entry["newBalance"], 1000000000001)
        for amount in ("0", "-1", "1.5", "abc", "1e3", "1000000000001", "99999999999999999999",
                       "+5", " 5", "5 ", "0x10", ""):
            with self.subTest(amount=amount):
                self.fails(["balance", "credit", account_id, amount], code=2)
        self.assert_ledger_ok()

    def test_credit_errors(self):
        account_id = self.account()
        self.fails(["balance", "credit", "99999999999999", "100"], code=1,
                   mentions="99999999999999")
        self.fails(["balance", "credit", "1234", "100"], code=2)
        self.fails(["balance", "credit", account_id, "100", "--memo", "x" * 501], code=2)
        self.fails(["balance", "credit", account_id, "100", "--memo", "bell\x07"], code=2)


class BankTest(CliTestCase):
    def test_set_is_sealed_and_masked(self):
        account_id = self.account()
        self.assertEqual(self.ok("bank", "set", account_id, "--bank-code", "004", "--number",
                                 "123-456-7890", "--holder", "홍길동").out, "")
        info = self.ok("--json", "bank", "set", account_id, "--bank-code", "088", "--number",
                       "110987654321", "--holder", "Kim Minsu").json()
        self.assertEqual(list(info.keys()), ["accountId", "bankCode", "accountNumber",
                                             "holderName", "dateCreated", "dateUpdated"])
        self.assertEqual(info["accountId"], account_id)
        self.assertEqual(info["bankCode"], "088")
        self.assertEqual(info["accountNumber"], "******4321")
        self.assertEqual(info["holderName"], "Kim Minsu")
        stored = self.db.stored_bytes()
        if stored:
            self.assertNotIn(b"110987654321", stored)
            self.assertNotIn(b"1234567890", stored)
            self.assertNotIn(b"123-456-7890", stored)

    def test_set_errors(self):
        account_id = self.account()
        good = {"--bank-code": "004", "--number": "123-456-7890", "--holder": "홍길동"}

        def attempt(**changes):
            options = dict(good)
            options.update(changes)
            args = ["bank", "set", account_id]
            for name, value in options.items():
                if value is not None:
                    args += [name, value]
            return args
        for code in ("04", "abcd", "1" * 17, ""):
            with self.subTest(code=code):
                self.fails(attempt(**{"--bank-code": code}), code=2, mentions="--bank-code")
        for number in ("12345", "1" * 21, "123--4567", "-1234567", "1234567-", "12a4567", ""):
            with self.subTest(number=number):
                self.fails(attempt(**{"--number": number}), code=2, mentions="--number")
        for holder in ("", "a\tb", "x" * 121):
            with self.subTest(holder=holder):
                self.fails(attempt(**{"--holder": holder}), code=2, mentions="--holder")
        self.fails(attempt(**{"--holder": None}), code=2, mentions="--holder")
        self.fails(["bank", "set", "99999999999999", "--bank-code", "004", "--number",
                    "1234567", "--holder", "x"], code=1, mentions="99999999999999")


class WithdrawListTest(CliTestCase):
    def test_empty_list(self):
        self.assertEqual(self.ok("withdraw", "list").out, "")
        self.assertEqual(self.ok("--json", "withdraw", "list").json(), [])
        account_id = self.account()
        self.assertEqual(self.ok("withdraw", "list", "--account", account_id,
                                 "--status", "PENDING").out, "")

    def test_bad_filters(self):
        self.fails(["withdraw", "list", "--status", "WAITING"], code=2)
        self.fails(["withdraw", "list", "--status", "pending"], code=2)
        self.fails(["withdraw", "list", "--account", "42"], code=2)


class LedgerTest(CliTestCase):
    def test_verify_clean(self):
        account_id = self.account()
        self.ok("balance", "credit", account_id, "700")
        self.assert_ledger_ok()
        info = self.ok("--json", "ledger", "verify").json()
        self.assertTrue(info["ok"])
        self.assertEqual(info["problems"], [])

    def test_verify_finds_a_balance_that_does_not_match_its_ledger(self):
        db = Database()
        try:
            ctl_ok(db, "init")
            account_id = ctl_ok(db, "account", "create").out.strip()
            ctl_ok(db, "balance", "credit", account_id, "1000")
            self.assertRegex(account_id, r"^\d{14}$")  # safe to put into the SQL below
            db.execute("UPDATE accounts SET balance = balance + 1 WHERE account_id = '%s'"
                       % account_id)
            result = run_ctl(db, "ledger", "verify")
            self.assertEqual(result.code, 1, result)
            self.assertIn(account_id, result.out)
            self.assertTrue(result.err.startswith("cashctl: "), result)
            info = run_ctl(db, "--json", "ledger", "verify")
            self.assertEqual(info.code, 1, info)
            self.assertFalse(info.json()["ok"])
            self.assertGreaterEqual(len(info.json()["problems"]), 1)
        finally:
            shutil.rmtree(db.dir, ignore_errors=True)


class SignTest(CliTestCase):
    HEADER = re.compile(r"^(HMAC-SHA256|HMAC-MD5) apiKey=([A-Z0-9]{16}), date=(\S+), "
                        r"salt=([A-Za-z0-9]{32}), signature=([0-9a-f]+)$")

    def test_sign_now(self):
        out = self.ok("sign", "--key", "ABCDEFGHIJKLMNOP", "--secret", "S" * 32).out.strip()
        match = self.HEADER.match(out)
        self.assertIsNotNone(match, out)
        method, key, date, salt, signature = match.groups()
        self.assertEqual((method, key), ("HMAC-SHA256", "ABCDEFGHIJKLMNOP"))
        moment = datetime.datetime.fromisoformat(date.replace("Z", "+00:00"))
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - moment).total_seconds()), 120)
        expected = hmac.new(b"S" * 32, (date + salt).encode(), hashlib.sha256).hexdigest()
        self.assertEqual(signature, expected)
        second = self.ok("sign", "--key", "ABCDEFGHIJKLMNOP", "--secret", "S" * 32).out.strip()
        self.assertNotEqual(self.HEADER.match(second).group(4), salt, "a fresh salt each time")

    def test_sign_md5_with_fixed_date_and_salt(self):
        date, salt = "2026-11-24T21:00:00+09:00", "abcdefghijkl"
        out = self.ok("sign", "--key", "ABCDEFGHIJKLMNOP", "--secret", "secret", "--method",
                      "HMAC-MD5", "--date", date, "--salt", salt).out.strip()
        expected = hmac.new(b"secret", (date + salt).encode(), hashlib.md5).hexdigest()
        self.assertEqual(out, "HMAC-MD5 apiKey=ABCDEFGHIJKLMNOP, date=%s, salt=%s, signature=%s"
                         % (date, salt, expected))
        info = self.ok("--json", "sign", "--key", "ABCDEFGHIJKLMNOP", "--secret", "secret",
                       "--method", "HMAC-MD5", "--date", date, "--salt", salt).json()
        self.assertEqual(info, {"authorization": out})

    def test_sign_errors(self):
        self.fails(["sign", "--key", "ABCDEFGHIJKLMNOP"], code=2, mentions="--secret")
        self.fails(["sign", "--secret", "x"], code=2, mentions="--key")
        self.fails(["sign", "--key", "SHORT", "--secret", "x"], code=2)
        self.fails(["sign", "--key", "ABCDEFGHIJKLMNOP", "--secret", "x", "--method", "HMAC-SHA1"],
                   code=2)
        self.fails(["sign", "--key", "ABCDEFGHIJKLMNOP", "--secret", "x", "--date", "yesterday"],
                   code=2)
        self.fails(["sign", "--key", "ABCDEFGHIJKLMNOP", "--secret", "x", "--salt", "short"],
                   code=2)


if __name__ == "__main__":
    unittest.main()
