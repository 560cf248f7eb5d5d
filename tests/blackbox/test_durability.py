"""SPEC 7: cashd refuses to start on a database set to lose committed transactions, unless the
operator passes the flag whose name says so (--unsafe-allow-data-loss=1, or
CASHD_UNSAFE_ALLOW_DATA_LOSS=1).

On PostgreSQL the database is made unsafe as an operator could (ALTER DATABASE ... SET
synchronous_commit = off; the check reads what a session really runs with). SQLite cannot be
made unsafe from outside: cashd always opens it with synchronous FULL, and the test shows that
this passes the check and that the flag changes nothing there."""

import shutil
import signal
import subprocess
import unittest

from cashtest import Database, base_env, cashd_bin, ctl_ok

REFUSAL_TIMEOUT_SECONDS = 60


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.db = Database()
        ctl_ok(self.db, "init")

    def tearDown(self):
        shutil.rmtree(self.db.dir, ignore_errors=True)

    def run_cashd(self, *args, env=None):
        merged = base_env(self.db.env())
        merged.update(env or {})
        try:
            return subprocess.run([cashd_bin(), "--listen", "127.0.0.1:0"] + list(args),
                                  env=merged, capture_output=True, text=True,
                                  timeout=REFUSAL_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as timeout:
            raise AssertionError("cashd started when it should have refused: %s"
                                 % timeout.stdout)

    def make_unsafe(self):
        """The database now loses the last commits on a crash; False if it cannot be made so."""
        if self.db.mode != "postgresql":
            return False
        self.db.execute("ALTER DATABASE %s SET synchronous_commit = off" % self.db.name)
        return True

    def start_and_stop(self, *args, env=None):
        """Starts cashd with args and env, waits until it listens, stops it; its log."""
        merged = base_env(self.db.env())
        merged.update(env or {})
        process = subprocess.Popen([cashd_bin(), "--listen", "127.0.0.1:0"] + list(args),
                                   env=merged, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        lines = []
        try:
            for line in process.stdout:
                lines.append(line)
                if "cashd listening on" in line:
                    break
            self.assertIn("cashd listening on", "".join(lines), "".join(lines))
            process.send_signal(signal.SIGTERM)
            lines += process.stdout.readlines()
            self.assertEqual(process.wait(timeout=REFUSAL_TIMEOUT_SECONDS), 0)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
        return "".join(lines)

    def test_refuses_an_unsafe_database_unless_told_it_may_lose_data(self):
        if not self.make_unsafe():
            for env in ({}, {"CASHD_UNSAFE_ALLOW_DATA_LOSS": "1"}):
                log = self.start_and_stop(env=env)
                self.assertNotIn("starting anyway", log)
            return
        refused = self.run_cashd()
        self.assertEqual(refused.returncode, 1, refused)
        output = refused.stdout + refused.stderr
        self.assertNotIn("cashd listening on", output)
        self.assertIn("synchronous_commit=off", output)
        self.assertIn("--unsafe-allow-data-loss", output)
        log = self.start_and_stop(env={"CASHD_UNSAFE_ALLOW_DATA_LOSS": "1"})
        self.assertIn("synchronous_commit=off", log)
        self.assertIn("starting anyway", log)

    def test_the_flag_on_the_command_line(self):
        unsafe = self.make_unsafe()
        if unsafe:
            refused = self.run_cashd("--unsafe-allow-data-loss=0")
            self.assertEqual(refused.returncode, 1, refused)
        log = self.start_and_stop("--unsafe-allow-data-loss=1")
        self.assertEqual("starting anyway" in log, unsafe, log)
        wrong = self.run_cashd("--unsafe-allow-data-loss=yes")
        self.assertEqual(wrong.returncode, 2, wrong)
        self.assertIn("--unsafe-allow-data-loss", wrong.stderr)

    def test_help_names_the_flag(self):
        completed = subprocess.run([cashd_bin(), "--help"], capture_output=True, text=True,
                                   timeout=60)
        self.assertEqual(completed.returncode, 0)
        self.assertIn("--unsafe-allow-data-loss", completed.stdout)
        self.assertIn("CASHD_UNSAFE_ALLOW_DATA_LOSS", completed.stdout)
        self.assertIn("CASHD_DB_POOL", completed.stdout)


if __name__ == "__main__":
    unittest.main()
