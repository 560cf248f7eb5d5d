"""Email OTP over real SMTP (SPEC 5; docs/API.md "Second factor"): a small SMTP server of the
suite's own on loopback (fakes.py) receives the mail; the test reads the code from the message
and completes a withdrawal with it. Delivery failures, AUTH, STARTTLS and implicit TLS, and a
stalled server that must not hold up anyone else."""

import datetime
import email.utils
import re
import shutil
import subprocess
import threading
import time
import unittest

import fakes
from cashtest import (VERIFICATION_FIELDS, Server, ServerTestCase, base_env, cashd_bin,
                      new_tmpdir, parse_iso)

VERIFICATIONS = "/cash/v1/verifications"
CODE_IN_TEXT = re.compile(r"\b(\d{6})\b")


def code_of(mail):
    codes = set(CODE_IN_TEXT.findall(mail.text()))
    assert len(codes) == 1, mail.text()
    return codes.pop()


class SmtpTestCase(ServerTestCase):
    """A fake SMTP server for the class, and cashd sending to it."""

    smtp_options = {}
    extra_env = {}

    @classmethod
    def setUpClass(cls):
        cls.smtp = fakes.SmtpServer(**cls.smtp_options)
        cls.server_env = dict({"CASHD_MAIL": cls.smtp.url(), "CASHD_MAIL_FROM": "otp@cashd.test"},
                              **cls.extra_env)
        try:
            super().setUpClass()
        except Exception:
            cls.smtp.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.smtp.close()


class SmtpDeliveryTest(SmtpTestCase):
    def test_the_mailed_code_authorises_a_withdrawal(self):
        customer, client = self.new_client(balance=50000)
        created = client.create_verification()
        self.assertEqual(created.status, 200, created)
        self.assertEqual(list(created.json.keys()), VERIFICATION_FIELDS)
        mail = self.smtp.mail_to(customer.email)
        code = code_of(mail)
        self.assertNotIn(code, self.server.log_text(), "a code mailed is never logged")
        confirmed = client.confirm(created.json["verificationId"], code)
        self.assertEqual(confirmed.status, 200, confirmed)
        withdrawal = client.withdraw(20000)
        self.assertEqual(withdrawal.status, 200, withdrawal)
        self.assertEqual(client.balance(), 30000)

    def test_a_proper_mime_message(self):
        customer, client = self.new_client()
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        created = client.create_verification()
        self.assertEqual(created.status, 200, created)
        mail = self.smtp.mail_to(customer.email)
        message = mail.message
        self.assertEqual(mail.envelope_from, "<otp@cashd.test>")
        self.assertEqual(mail.recipients, ["<%s>" % customer.email])
        self.assertEqual(message["To"].addresses[0].addr_spec, customer.email)
        self.assertEqual(message["From"].addresses[0].addr_spec, "otp@cashd.test")
        self.assertEqual(str(message["Subject"]), "[cashd] 인증 코드 / Verification code")
        raw = mail.data.decode("ascii")  # every header and the base64 body are ASCII
        self.assertRegex(raw, r"(?m)^Subject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=\r$")
        self.assertEqual(message.get_content_type(), "text/plain")
        self.assertEqual(message.get_content_charset(), "utf-8")
        self.assertEqual(message["Content-Transfer-Encoding"], "base64")
        self.assertEqual(message["MIME-Version"], "1.0")
        sent = email.utils.parsedate_to_datetime(message["Date"])
        self.assertLessEqual(before, sent)
        self.assertLessEqual(sent, datetime.datetime.now(datetime.timezone.utc))
        self.assertRegex(message["Message-ID"],
                         r"^<%s\.[a-z0-9]{16}@cashd\.test>$" % created.json["verificationId"])
        for line in mail.data.split(b"\r\n"):
            self.assertLessEqual(len(line), 78)
        text = mail.text()
        code = code_of(mail)
        self.assertIn("인증 코드: %s" % code, text)
        self.assertIn("verification code: %s" % code, text)
        self.assertIn("5분", text)
        self.assertIn("5 minutes", text)
        self.assertFalse(mail.tls, "this server offers no STARTTLS")
        self.assertIsNone(mail.auth)

    def test_each_verification_has_its_own_message_and_code(self):
        customer, client = self.new_client()
        first = client.create_verification().json["verificationId"]
        second = client.create_verification().json["verificationId"]
        mails = [self.mail_of(verification_id) for verification_id in (first, second)]
        self.assertNotEqual(mails[0].message["Message-ID"], mails[1].message["Message-ID"])
        if code_of(mails[0]) != code_of(mails[1]):
            self.assert_error(client.confirm(second, code_of(mails[0])), 400,
                              "InvalidVerificationCode")
        self.assertEqual(client.confirm(second, code_of(mails[1])).status, 200)
        self.assertEqual(client.confirm(first, code_of(mails[0])).status, 200)

    def mail_of(self, verification_id):
        def find():
            return [m for m in self.smtp.mails if verification_id in m.message["Message-ID"]]
        with self.smtp.condition:
            fakes.wait_until(self.smtp.condition, find, fakes.WAIT_SECONDS,
                             "the mail of %s" % verification_id)
            return find()[0]


class SmtpAuthTest(SmtpTestCase):
    smtp_options = {"credentials": ("cashd-mailer", "s3cret pass")}
    extra_env = {"CASHD_MAIL_USER": "cashd-mailer", "CASHD_MAIL_PASSWORD": "s3cret pass"}

    def test_auth_from_the_environment(self):
        customer, client = self.new_client()
        created = client.create_verification()
        self.assertEqual(created.status, 200, created)
        mail = self.smtp.mail_to(customer.email)
        self.assertEqual(mail.auth, ("cashd-mailer", "s3cret pass"))
        self.assertNotIn("s3cret pass", self.server.log_text())


class SmtpWrongAuthTest(SmtpTestCase):
    smtp_options = {"credentials": ("cashd-mailer", "right")}
    extra_env = {"CASHD_MAIL_USER": "cashd-mailer", "CASHD_MAIL_PASSWORD": "wrong"}

    def test_refused_credentials_fail_the_delivery(self):
        _, client = self.new_client()
        reply = client.create_verification()
        self.assert_error(reply, 503, "MailDeliveryFailed", mentions="535")
        self.assertEqual(self.smtp.mails, [])


class SmtpRefusalTest(SmtpTestCase):
    smtp_options = {"reject_recipients": True}

    def test_a_refused_message_is_a_clear_error_and_a_failed_verification(self):
        _, client = self.new_client(balance=50000)
        reply = client.create_verification()
        self.assert_error(reply, 503, "MailDeliveryFailed", mentions="550")
        self.assertNotIn("retry-after", reply.headers)
        verification_id = re.match(r"^verification (\d{32}): ", reply.json["errorMessage"])
        self.assertIsNotNone(verification_id, reply)
        verification_id = verification_id.group(1)
        fakes.wait_for_log(self.server, "verification %s: the email was not delivered"
                           % verification_id)
        state = client.get("%s/%s" % (VERIFICATIONS, verification_id))
        self.assertEqual(state.status, 200, state)
        self.assertEqual(state.json["status"], "FAILED", "it exists and can never be confirmed")
        self.assert_error(client.confirm(verification_id, "123456"), 409, "InvalidStatus")
        self.assert_error(client.withdraw(20000, verification_id), 403, "SecondFactorRequired")
        self.assert_error(client.withdraw(20000), 403, "SecondFactorRequired")


class SmtpUnreachableTest(SmtpTestCase):
    @classmethod
    def setUpClass(cls):
        cls.extra_env = {"CASHD_MAIL": "smtp://127.0.0.1:%d" % fakes.free_port()}
        super().setUpClass()

    def test_no_server_is_a_clear_error(self):
        _, client = self.new_client()
        reply = client.create_verification()
        self.assert_error(reply, 503, "MailDeliveryFailed")


class SmtpStallTest(SmtpTestCase):
    """A server that takes the message and never answers: the request that sent it gives up
    after CASHD_MAIL_TIMEOUT_SECONDS; everyone else is served meanwhile (src/gateway/gateway.h)."""

    smtp_options = {"stall": threading.Event()}
    extra_env = {"CASHD_MAIL_TIMEOUT_SECONDS": "8", "CASHD_THREADS": "2"}

    def test_a_stalled_server_holds_up_only_its_own_request(self):
        _, sender = self.new_client()
        _, other_sender = self.new_client()
        _, reader = self.new_client(balance=7000)
        outcome = {}

        def create():
            outcome["reply"] = sender.create_verification()

        thread = threading.Thread(target=create)
        started = time.monotonic()
        thread.start()
        self.smtp.wait_stalled(1)
        # Two workers: one delivery may wait; the next one is refused at once ...
        refused = other_sender.create_verification()
        self.assert_error(refused, 503, "ServiceUnavailable", mentions="delivered")
        self.assertEqual(refused.headers.get("retry-after"), "1")
        # ... and the other worker serves everyone else.
        self.assertEqual(reader.balance(), 7000)
        self.assertEqual(reader.get("/cash/v1/withdraw").status, 200)
        self.assertTrue(thread.is_alive(), "the stalled delivery was still waiting")
        thread.join(60)
        self.assertGreaterEqual(time.monotonic() - started, 7.5, "it waited for its timeout")
        self.assert_error(outcome["reply"], 503, "MailDeliveryFailed")
        self.smtp.stall.set()
        # The place is free again.
        self.assertEqual(other_sender.create_verification().status, 200)


@unittest.skipUnless(shutil.which("openssl"), "the openssl command makes the test certificate")
class SmtpTlsTest(unittest.TestCase):
    """STARTTLS when the server offers it (smtp://), implicit TLS (smtps://), and AUTH that is
    never sent in clear to a server that is not on loopback."""

    @classmethod
    def setUpClass(cls):
        cls.dir = new_tmpdir("tls-")
        cls.cert = fakes.make_certificate(cls.dir)
        if cls.cert is None:
            raise unittest.SkipTest("openssl could not make a certificate")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_with(self, smtp, scheme, extra=None):
        env = {"CASHD_MAIL": smtp.url(scheme), "CASHD_MAIL_CA_FILE": self.cert[0]}
        env.update(extra or {})
        server = Server(env=env).start()
        try:
            from cashtest import make_customer
            customer = make_customer(server)
            client = customer.client()
            reply = client.create_verification()
            client.close()
            mail = smtp.mail_to(customer.email) if reply.status == 200 else None
            return reply, mail
        finally:
            self.assertEqual(server.stop(), 0)
            shutil.rmtree(server.db.dir, ignore_errors=True)

    def test_starttls_when_offered(self):
        smtp = fakes.SmtpServer(starttls=fakes.tls_context(self.cert),
                                credentials=("mailer", "pw"))
        try:
            reply, mail = self.run_with(smtp, "smtp", {"CASHD_MAIL_USER": "mailer",
                                                       "CASHD_MAIL_PASSWORD": "pw"})
            self.assertEqual(reply.status, 200, reply)
            self.assertTrue(mail.tls, "the session went over STARTTLS")
            self.assertEqual(mail.auth, ("mailer", "pw"))
        finally:
            smtp.close()

    def test_implicit_tls(self):
        smtp = fakes.SmtpServer(implicit_tls=fakes.tls_context(self.cert))
        try:
            reply, mail = self.run_with(smtp, "smtps")
            self.assertEqual(reply.status, 200, reply)
            self.assertTrue(mail.tls)
        finally:
            smtp.close()

    def test_an_untrusted_certificate_fails_the_delivery(self):
        smtp = fakes.SmtpServer(implicit_tls=fakes.tls_context(self.cert))
        other_dir = new_tmpdir("tls-other-")
        try:
            other = fakes.make_certificate(other_dir)
            reply, _ = self.run_with(smtp, "smtps", {"CASHD_MAIL_CA_FILE": other[0]})
            self.assertEqual(reply.status, 503, reply)
            self.assertEqual(reply.error_code, "MailDeliveryFailed")
        finally:
            smtp.close()
            shutil.rmtree(other_dir, ignore_errors=True)

    def test_auth_is_not_sent_in_clear_off_loopback(self):
        address = _outside_address()
        if address is None:
            self.skipTest("this machine has no address other than loopback")
        smtp = fakes.SmtpServer(credentials=("mailer", "pw"), host="0.0.0.0")
        try:
            reply, mail = self.run_with(smtp, "smtp", {
                "CASHD_MAIL": "smtp://%s:%d" % (address, smtp.port),
                "CASHD_MAIL_USER": "mailer", "CASHD_MAIL_PASSWORD": "pw"})
            self.assertEqual(reply.status, 503, reply)
            self.assertEqual(reply.error_code, "MailDeliveryFailed")
            self.assertIsNone(mail)
            self.assertEqual(smtp.mails, [])
        finally:
            smtp.close()


def _outside_address():
    """An IPv4 address of this machine other than loopback, or None (no packet is sent)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 9))
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


class MailSettingsTest(unittest.TestCase):
    """Bad mail settings stop cashd at start with a clear line (exit 2)."""

    def start_fails(self, env, mentions):
        completed = subprocess.run([cashd_bin(), "--listen", "127.0.0.1:0"],
                                   env=base_env(dict({"CASHD_DB": "sqlite:/nonexistent/x.db"},
                                                     **env)),
                                   capture_output=True, text=True, timeout=60)
        self.assertEqual(completed.returncode, 2, completed)
        self.assertIn(mentions, completed.stderr)

    def test_bad_settings(self):
        for env, mentions in (
                ({"CASHD_MAIL": "ftp://127.0.0.1:25"}, "CASHD_MAIL"),
                ({"CASHD_MAIL": "smtp:/127.0.0.1"}, "CASHD_MAIL"),
                ({"CASHD_MAIL": ""}, "CASHD_MAIL"),
                ({"CASHD_MAIL_TIMEOUT_SECONDS": "0"}, "CASHD_MAIL_TIMEOUT_SECONDS"),
                ({"CASHD_MAIL_TIMEOUT_SECONDS": "121"}, "CASHD_MAIL_TIMEOUT_SECONDS"),
                ({"CASHD_MAIL_TIMEOUT_SECONDS": "ten"}, "CASHD_MAIL_TIMEOUT_SECONDS"),
                ({"CASHD_MAIL_TIMEOUT_SECONDS": "-1"}, "CASHD_MAIL_TIMEOUT_SECONDS")):
            with self.subTest(env=env):
                self.start_fails(env, mentions)


class BadSenderTest(SmtpTestCase):
    extra_env = {"CASHD_MAIL_FROM": "not an address"}

    def test_a_sender_a_header_cannot_carry_fails_the_delivery(self):
        _, client = self.new_client()
        reply = client.create_verification()
        self.assert_error(reply, 503, "MailDeliveryFailed", mentions="sender")
        self.assertEqual(self.smtp.mails, [])


if __name__ == "__main__":
    unittest.main()
