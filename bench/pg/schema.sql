-- The PostgreSQL reference of bench/run: the three tables a withdrawal writes, with the columns
-- and indexes of cashd's schema (src/store/schema.c, version 1). One addition: accounts
-- carries the number of its newest ledger entry (entry_seq), so that the one-statement
-- transaction can number the entry under the row lock it already holds (with a MAX() subquery
-- two concurrent statements would both read the same snapshot).
CREATE TABLE accounts (
  account_id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE', 'DELETED')),
  verified TEXT NOT NULL CHECK (verified IN ('none', 'personal', 'business')),
  balance BIGINT NOT NULL CHECK (balance >= 0),
  point BIGINT NOT NULL CHECK (point >= 0),
  auto_recharge INTEGER NOT NULL CHECK (auto_recharge IN (0, 1)),
  minimum_cash BIGINT NOT NULL CHECK (minimum_cash >= 0),
  recharge_to BIGINT NOT NULL CHECK (recharge_to >= 0),
  recharge_try_count BIGINT NOT NULL CHECK (recharge_try_count >= 0),
  entry_seq BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL);

CREATE TABLE withdrawals (
  withdraw_id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  member_id TEXT NOT NULL,
  bank_code TEXT NOT NULL,
  sealed_number TEXT NOT NULL,
  masked_number TEXT NOT NULL,
  holder_name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'COMPLETED', 'FAILED',
    'REJECTED', 'CANCELED')),
  is_processing INTEGER NOT NULL CHECK (is_processing IN (0, 1)),
  confirmed_count BIGINT NOT NULL CHECK (confirmed_count >= 0),
  memo TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  transaction_ms BIGINT NOT NULL,
  amount BIGINT NOT NULL CHECK (amount >= 1),
  fee BIGINT NOT NULL CHECK (fee >= 0),
  total_amount BIGINT NOT NULL,
  confirmed_ms BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  CHECK (amount + fee = total_amount));
CREATE INDEX withdrawals_account ON withdrawals (account_id, withdraw_id);
CREATE INDEX withdrawals_account_created ON withdrawals (account_id, created_ms);

CREATE TABLE balance_history (
  history_id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  entry_seq BIGINT NOT NULL CHECK (entry_seq >= 1),
  type TEXT NOT NULL CHECK (type IN ('RECHARGE', 'WITHDRAW', 'WITHDRAW_REFUND')),
  balance_amount BIGINT NOT NULL,
  point_amount BIGINT NOT NULL,
  old_balance BIGINT NOT NULL,
  new_balance BIGINT NOT NULL CHECK (new_balance >= 0),
  old_point BIGINT NOT NULL,
  new_point BIGINT NOT NULL CHECK (new_point >= 0),
  memo TEXT NOT NULL,
  group_id TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  CHECK (new_balance = old_balance + balance_amount),
  CHECK (new_point = old_point + point_amount));
CREATE UNIQUE INDEX balance_history_account_seq ON balance_history (account_id, entry_seq);
CREATE INDEX balance_history_account ON balance_history (account_id, history_id);
CREATE INDEX balance_history_account_created ON balance_history (account_id, created_ms);
CREATE INDEX balance_history_group ON balance_history (group_id);

-- 10,000 accounts of one billion won each, account ids 00000000000001.. (14 digits).
INSERT INTO accounts
SELECT lpad(n::text, 14, '0'), 'ACTIVE', 'personal', 1000000000, 0, 0, 0, 0, 0, 0, 0, 0
FROM generate_series(1, :accounts) AS n;
VACUUM ANALYZE;
