-- pgbench script: one withdrawal of 1,000 won as ONE statement (one round trip): the guarded
-- debit, the ledger entry chained on it, and the withdrawal row; nothing is written when the
-- balance does not cover the amount. Ids are cashd-shaped: 13 digits of milliseconds then 19
-- random digits.
\set n random(1, :accounts)
WITH ids AS (
  SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms,
         lpad((random() * 1e18)::bigint::text, 19, '0') AS history_random,
         lpad((random() * 1e18)::bigint::text, 19, '0') AS withdraw_random),
u AS (
  UPDATE accounts SET balance = balance - 1000, entry_seq = entry_seq + 1,
         updated_ms = (SELECT ms FROM ids)
  WHERE account_id = lpad(:n::text, 14, '0') AND balance >= 1000
  RETURNING account_id, balance, entry_seq),
l AS (
  INSERT INTO balance_history (history_id, account_id, entry_seq, type, balance_amount,
         point_amount, old_balance, new_balance, old_point, new_point, memo, group_id, created_ms)
  SELECT ids.ms::text || ids.history_random, u.account_id, u.entry_seq, 'WITHDRAW', -1000, 0,
         u.balance + 1000, u.balance, 0, 0, '', ids.ms::text || ids.withdraw_random, ids.ms
  FROM u, ids)
INSERT INTO withdrawals (withdraw_id, account_id, member_id, bank_code, sealed_number,
       masked_number, holder_name, status, is_processing, confirmed_count, memo, transaction_id,
       transaction_ms, amount, fee, total_amount, confirmed_ms, created_ms, updated_ms)
SELECT ids.ms::text || ids.withdraw_random, u.account_id, '26112400000001', '004', 'sealed',
       '******7890', 'Bench Holder', 'PENDING', 0, 0, '', '', 0, 450, 550, 1000,
       ids.ms - ids.ms % 1000, ids.ms, ids.ms
FROM u, ids;
