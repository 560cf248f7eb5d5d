// The official SOLAPI/COOLSMS Node SDKs, unmodified, against a real cashd (SPEC 2): they build the
// Authorization header themselves (date with the local UTC offset, as date-fns formatISO writes it)
// and solapi validates the balance answer against its own schema.
//
// Environment: CASHD_BIN, CASHCTL_BIN (the programs), CASHD_TEST_TMP (scratch directory).
// Prints "N passed, M failed" and exits non-zero on any failure.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { SolapiMessageService } = require('solapi');
const CoolsmsMessageService = require('coolsms-node-sdk').default;

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const cashdBin = process.env.CASHD_BIN || path.join(repo, 'build', 'cashd');
const cashctlBin = process.env.CASHCTL_BIN || path.join(repo, 'build', 'cashctl');
const START_TIMEOUT_MS = 60000;
const STOP_TIMEOUT_MS = 60000;
const BALANCE = 123456;

const scratchRoot = process.env.CASHD_TEST_TMP || path.join(tmpdir(), 'cashd-test');
mkdirSync(scratchRoot, { recursive: true });
const scratch = mkdtempSync(path.join(scratchRoot, 'sdk-'));

// cashd and cashctl see only our own CASHD_* settings.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CASHD_')));
Object.assign(env, {
  CASHD_DB: `sqlite:${path.join(scratch, 'cashd.db')}`,
  CASHD_DATA_KEY_FILE: path.join(scratch, 'cashd.key'),
  CASHD_MAIL: 'console',
});

function cashctl(...args) {
  const result = spawnSync(cashctlBin, args, { env, encoding: 'utf8', timeout: 120000 });
  if (result.status !== 0) {
    throw new Error(`cashctl ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  }
  return result.stdout.trim();
}

function startCashd() {
  return new Promise((resolve, reject) => {
    const child = spawn(cashdBin, ['--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = [];
    let pending = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cashd did not start:\n${log.join('\n')}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        log.push(line);
        const match = /cashd listening on (\S+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          const port = Number(match[1].slice(match[1].lastIndexOf(':') + 1));
          resolve({ child, port, log });
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cashd exited with ${code} before listening:\n${log.join('\n')}`));
    });
  });
}

function stopCashd(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === null ? signal : code);
    });
    child.kill('SIGTERM');
  });
}

// solapi keeps its services private and binds their methods in its constructor; every service
// has a public `baseUrl` field. Constructing under a watch on bind finds those service objects,
// so that their field can be set, with no change to the package.
function solapiService(apiKey, apiSecret, baseUrl) {
  const originalBind = Function.prototype.bind;
  const services = new Set();
  Function.prototype.bind = function bindWatched(target, ...args) {
    if (target !== null && typeof target === 'object' && 'baseUrl' in target) {
      services.add(target);
    }
    return originalBind.call(this, target, ...args);
  };
  let service;
  try {
    service = new SolapiMessageService(apiKey, apiSecret);
  } finally {
    Function.prototype.bind = originalBind;
  }
  if (services.size === 0) {
    throw new Error('no solapi service with a baseUrl was found');
  }
  for (const inner of services) {
    inner.baseUrl = baseUrl;
  }
  return service;
}

// coolsms-node-sdk's service itself has the public `baseUrl` field.
function coolsmsService(apiKey, apiSecret, baseUrl) {
  const service = new CoolsmsMessageService(apiKey, apiSecret);
  if (typeof service.baseUrl !== 'string') {
    throw new Error('coolsms service has no baseUrl field');
  }
  service.baseUrl = baseUrl;
  return service;
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const results = { passed: 0, failed: 0 };
async function test(name, body) {
  try {
    await body();
    results.passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    results.failed += 1;
    console.log(`FAIL - ${name}: ${error && error.stack ? error.stack : error}`);
  }
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('the call succeeded but should have been refused');
}

async function main() {
  cashctl('init');
  const accountId = cashctl('account', 'create', '--verified', 'personal');
  const memberId = cashctl('member', 'add', accountId, '--email', 'sdk@example.com', '--phone', '010-1234-5678');
  const [apiKey, apiSecret] = cashctl('apikey', 'create', memberId).split(' ');
  cashctl('balance', 'credit', accountId, String(BALANCE), '--memo', 'sdk test');
  const other = cashctl('account', 'create', '--verified', 'personal', '--status', 'INACTIVE');
  const otherMember = cashctl('member', 'add', other, '--email', 'other@example.com', '--phone', '01099998888');
  const [otherKey, otherSecret] = cashctl('apikey', 'create', otherMember).split(' ');

  const { child, port, log } = await startCashd();
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    for (const zone of ['Asia/Seoul', 'America/New_York', 'UTC']) {
      process.env.TZ = zone; // date-fns formatISO writes the local offset: +09:00, -05:00, Z
      await test(`solapi getBalance (TZ=${zone})`, async () => {
        const balance = await solapiService(apiKey, apiSecret, baseUrl).getBalance();
        check(balance.balance === BALANCE, `balance ${JSON.stringify(balance)}`);
        check(balance.point === 0, `point ${balance.point}`);
        check(balance.accountId === accountId, `accountId ${balance.accountId}`);
        check(balance.autoRecharge === 0, `autoRecharge ${balance.autoRecharge}`);
      });
      await test(`coolsms-node-sdk getBalance (TZ=${zone})`, async () => {
        const balance = await coolsmsService(apiKey, apiSecret, baseUrl).getBalance();
        check(balance.balance === BALANCE, `balance ${JSON.stringify(balance)}`);
        check(balance.accountId === accountId, `accountId ${balance.accountId}`);
      });
    }
    process.env.TZ = 'Asia/Seoul';

    await test('solapi reads the error of a wrong secret', async () => {
      const error = await rejection(solapiService(apiKey, 'X'.repeat(32), baseUrl).getBalance());
      check(error.errorCode === 'SignatureDoesNotMatch', `errorCode ${error.errorCode}`);
      check(error.httpStatus === 403, `httpStatus ${error.httpStatus}`);
    });
    await test('coolsms-node-sdk reads the error of an unknown key', async () => {
      const error = await rejection(coolsmsService('ZZZZZZZZZZZZZZZZ', apiSecret, baseUrl).getBalance());
      check(error.name === 'InvalidAPIKey', `name ${error.name}: ${error.message}`);
    });
    await test('solapi reads AccountNotActive', async () => {
      const error = await rejection(solapiService(otherKey, otherSecret, baseUrl).getBalance());
      check(error.errorCode === 'AccountNotActive', `errorCode ${error.errorCode}`);
    });
    await test('the secret never reaches the log', async () => {
      check(!log.join('\n').includes(apiSecret), 'the API secret is in the log');
    });
  } finally {
    const code = await stopCashd(child);
    await test('cashd exits 0 on SIGTERM', async () => check(code === 0, `exit ${code}`));
  }
  await test('cashctl ledger verify', async () => {
    check(cashctl('ledger', 'verify').includes('ledger ok'), 'ledger verify');
  });
}

try {
  await main();
} catch (error) {
  results.failed += 1;
  console.log(`FAIL - setup: ${error && error.stack ? error.stack : error}`);
}
if (results.failed === 0 && !process.env.CASHD_TEST_KEEP) {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed === 0 ? 0 : 1);
