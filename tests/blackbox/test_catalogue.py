"""The bad-input catalogue (SPEC 8, docs/API.md "Request rules"): one table of malformed requests
- headers, bodies, query strings, paths, methods, sizes, encodings, numbers at and past every
limit, slow and truncated requests - each with the status and errorCode cashd must answer. After
the whole table has run, the rows that hold money, keys and second factors are byte for byte what
they were before (cashtest.stored_rows), and the log holds no secret and no full account number.

A case whose expected errorCode is None is answered by libmicrohttpd itself before cashd sees the
request (its own HTML text, not JSON); a case whose expected status is None gets no answer at all.
Idle and stalled clients, cut off after HTTP_CONNECTION_TIMEOUT_SECONDS, are test_http.py's
SlowClientTest (it waits 30 s; this table does not wait again).
"""

import datetime
import gzip
import json
import re
import socket
import time
import unittest
import urllib.parse

from cashtest import (ServerTestCase, add_member, authorization, ctl_ok, iso_date, make_customer,
                      random_salt, stored_rows, strict_json, verify)

BODY_BYTES_MAX = 16 * 1024
URL_BYTES_MAX = 2048
HEADER_BYTES_MAX = 8192
AUTH_HEADER_BYTES_MAX = 512
ZERO_ID = "0" * 32
MIN, MAX = 1000, 50000000
DAILY_LIMIT = 1000000
SOCKET_TIMEOUT_SECONDS = 30
WITHDRAW = "/cash/v1/withdraw"
BANK = "/cash/v1/bank/accounts"
VERIFICATIONS = "/cash/v1/verifications"
SIGNED = object()      # a fresh, valid Authorization of the case's customer
JSON = object()        # Content-Type: application/json when there is a body


class Case:
    """One malformed request and its expected answer."""

    def __init__(self, name, status, code, method="GET", path="/cash/v1/balance", body=None,
                 auth=SIGNED, who="owner", headers=None, content_type=JSON, raw=None,
                 steps=None, client_closes=False):
        self.name = name
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.body = body
        self.auth = auth          # SIGNED, None (no header), str, or callable(customer) -> str
        self.who = who
        self.headers = headers or {}
        self.content_type = content_type
        self.raw = raw            # callable(auth header line) -> bytes, sent over a bare socket
        self.steps = steps        # for raw: list of (bytes, seconds to wait after)
        self.client_closes = client_closes  # the client goes away without waiting


def json_body(value):
    return json.dumps(value).encode()


def nested(depth):
    return ('{"a": ' * depth + "1" + "}" * depth).encode()


def query(path, *pairs):
    """path?k=v&... with the values percent-encoded as a client would (brackets kept)."""
    return path + "?" + "&".join("%s=%s" % (k, urllib.parse.quote(v, safe="[]")) for k, v in pairs)


def header_for(customer, **overrides):
    """The vendor's header of customer with some parts replaced (values are used as given)."""
    parts = {"method": "HMAC-SHA256", "apiKey": customer.api_key, "date": iso_date(),
             "salt": random_salt(), "signature": None}
    parts.update(overrides)
    if parts["signature"] is None:
        signed = authorization(customer.api_key, customer.api_secret, parts["method"]
                               if parts["method"] in ("HMAC-SHA256", "HMAC-MD5") else
                               "HMAC-SHA256", date=parts["date"], salt=parts["salt"])
        parts["signature"] = signed.rsplit("signature=", 1)[1]
    return "%s apiKey=%s, date=%s, salt=%s, signature=%s" % (
        parts["method"], parts["apiKey"], parts["date"], parts["salt"], parts["signature"])


def skewed(minutes):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return iso_date(moment)


def padded_header(customer, length):
    """A valid header of exactly length bytes: spaces after the commas are allowed."""
    header = header_for(customer)
    missing = length - len(header)
    assert missing >= 0
    return header.replace(", date=", "," + " " * (missing + 1) + "date=", 1)


def request_line(method, path, auth_line, headers=b"", body=b""):
    return (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)) + auth_line + headers + \
        b"\r\n" + body


# ---- the table ----

def path_cases():
    cases = []
    for path in ("/", "/cash", "/cash/v1", "/cash/v1/", "/cash/v2/withdraw", "/CASH/V1/BALANCE",
                 "/cash/v1/balance/", "/cash/v1/withdraw/", "//cash/v1/balance",
                 "/cash/v1//balance", "/cash/v1/balance;x=1", "/cash/v1/balance%20",
                 "/cash/v1/balance/history/x", "/cash/v1/bank/accounts/1",
                 "/cash/v1/withdraw/%s/cancel/now" % ZERO_ID, "/cash/v1/%ED%99%8D",
                 "/cash/v1/balance%zz", "/cash/v1/withdraw/..%2F..%2Fbalance",
                 "/cash/v1/verifications/%s/confirm/x" % ZERO_ID, "/index.html",
                 "/cash/v1/withdraw/quote/x", "/" + "a" * (URL_BYTES_MAX - 1)):
            cases.append(Case("unknown path %s" % path[:40], 404, "NotFound", path=path,
                              auth=None))
    cases.append(Case("unknown path, signed", 404, "NotFound", path="/cash/v1/nope"))
    for name, path in (("short id", WITHDRAW + "/123"), ("33-digit id", WITHDRAW + "/" + "1" * 33),
                       ("letters id", WITHDRAW + "/" + "a" * 32), ("unknown id", WITHDRAW + "/" +
                                                                  ZERO_ID),
                       ("negative id", WITHDRAW + "/-" + "1" * 31),
                       ("unknown verification", VERIFICATIONS + "/" + ZERO_ID)):
        cases.append(Case("withdrawal %s" % name, 404, "NotFound", path=path))
    cases.append(Case("cancel of an unknown withdrawal", 404, "NotFound", method="POST",
                      path=WITHDRAW + "/%s/cancel" % ZERO_ID))
    cases.append(Case("cancel of a malformed id", 404, "NotFound", method="POST",
                      path=WITHDRAW + "/12ab/cancel"))
    cases.append(Case("another account's withdrawal", 404, "NotFound",
                      path=lambda t: WITHDRAW + "/" + t.other_withdraw_id))
    cases.append(Case("cancel of another account's withdrawal", 404, "NotFound", method="POST",
                      path=lambda t: WITHDRAW + "/%s/cancel" % t.other_withdraw_id))
    cases.append(Case("another member's verification", 404, "NotFound",
                      path=lambda t: VERIFICATIONS + "/" + t.other_verification_id))
    cases.append(Case("URL over 2048 bytes", 414, "URITooLong", path="/" + "a" * URL_BYTES_MAX,
                      auth=None))
    cases.append(Case("query string pushing the URL over 2048 bytes", 414, "URITooLong",
                      path=query(WITHDRAW, ("holderName[like]", "x" * URL_BYTES_MAX))))
    cases.append(Case("NUL in the path", 400, "ValidationError",
                      path="/cash/v1/balance%00/../x"))
    return cases


def method_cases():
    cases = []
    for method, path in (("DELETE", WITHDRAW), ("PUT", "/cash/v1/balance"),
                         ("POST", "/cash/v1/balance"), ("PATCH", BANK),
                         ("PUT", BANK), ("GET", VERIFICATIONS),
                         ("POST", WITHDRAW + "/quote"), ("POST", "/cash/v1/balance/history"),
                         ("GET", WITHDRAW + "/%s/cancel" % ZERO_ID),
                         ("DELETE", WITHDRAW + "/" + ZERO_ID),
                         ("PUT", VERIFICATIONS + "/%s/confirm" % ZERO_ID),
                         ("DELETE", VERIFICATIONS + "/" + ZERO_ID), ("OPTIONS", WITHDRAW),
                         ("TRACE", "/cash/v1/balance"),
                         ("get", "/cash/v1/balance"), ("Post", WITHDRAW),
                         ("FOO", "/cash/v1/balance"), ("X" * 100, "/cash/v1/balance")):
        cases.append(Case("%s %s" % (method[:12], path[:40]), 405, "MethodNotAllowed",
                          method=method, path=path, auth=None))
    # HEAD is answered without a body: the status alone.
    cases.append(Case("HEAD /cash/v1/balance", 405, None, method="HEAD", auth=None))
    return cases


def auth_cases():
    a = header_for
    cases = [
        Case("no Authorization", 401, "Unauthorized", auth=None),
        Case("no Authorization on a write", 401, "Unauthorized", method="POST", path=WITHDRAW,
             body=b'{"amount": 20000}', auth=None),
        Case("empty Authorization", 400, "ValidationError", auth=""),
        Case("Bearer token", 400, "ValidationError", auth="Bearer abc.def.ghi"),
        Case("Basic credentials", 400, "ValidationError", auth="Basic dXNlcjpwYXNz"),
        Case("method HMAC-SHA1", 400, "ValidationError", auth=lambda c: a(c, method="HMAC-SHA1")),
        Case("method in lower case", 400, "ValidationError",
             auth=lambda c: a(c, method="hmac-sha256")),
        Case("method only", 400, "ValidationError", auth="HMAC-SHA256"),
        Case("method and a space", 400, "ValidationError", auth="HMAC-SHA256 "),
        Case("apiKey of 15", 400, "ValidationError",
             auth=lambda c: a(c, apiKey=c.api_key[:15])),
        Case("apiKey of 17", 400, "ValidationError", auth=lambda c: a(c, apiKey=c.api_key + "A")),
        Case("apiKey with a symbol", 400, "ValidationError",
             auth=lambda c: a(c, apiKey=c.api_key[:15] + "!")),
        Case("apiKey not ASCII", 400, "ValidationError",
             auth=lambda c: a(c, apiKey=c.api_key[:14] + "\u00e9")),
        Case("date not a date", 400, "ValidationError", auth=lambda c: a(c, date="yesterday")),
        Case("date without a zone", 400, "ValidationError",
             auth=lambda c: a(c, date=iso_date().rstrip("Z"))),
        Case("date of February 30", 400, "ValidationError",
             auth=lambda c: a(c, date="2026-02-30T10:00:00Z")),
        Case("date with hour 24", 400, "ValidationError",
             auth=lambda c: a(c, date="2026-11-24T24:00:00Z")),
        Case("date with 10 fraction digits", 400, "ValidationError",
             auth=lambda c: a(c, date=iso_date(milliseconds=False).rstrip("Z") +
                              ".1234567890Z")),
        Case("date with offset +24:00", 400, "ValidationError",
             auth=lambda c: a(c, date="2026-11-24T10:00:00+24:00")),
        Case("date as epoch seconds", 400, "ValidationError",
             auth=lambda c: a(c, date=str(int(time.time())))),
        Case("salt of 11 bytes", 400, "ValidationError", auth=lambda c: a(c, salt="a" * 11)),
        Case("salt of 65 bytes", 400, "ValidationError", auth=lambda c: a(c, salt="a" * 65)),
        Case("salt with a comma", 400, "ValidationError",
             auth=lambda c: a(c, salt="abcdefgh,ijklmn")),
        Case("empty salt", 400, "ValidationError", auth=lambda c: a(c, salt="")),
        Case("signature not hex", 400, "ValidationError", auth=lambda c: a(c, signature="z" * 64)),
        Case("signature of 63 hex digits", 400, "ValidationError",
             auth=lambda c: a(c, signature="a" * 63)),
        Case("signature of 65 hex digits", 400, "ValidationError",
             auth=lambda c: a(c, signature="a" * 65)),
        Case("HMAC-MD5 with a SHA-256 length", 400, "ValidationError",
             auth=lambda c: a(c, method="HMAC-MD5", signature="a" * 64)),
        Case("a part twice", 400, "ValidationError",
             auth=lambda c: a(c) + ", salt=" + random_salt()),
        Case("an unknown part", 400, "ValidationError", auth=lambda c: a(c) + ", nonce=1"),
        Case("salt missing", 400, "ValidationError",
             auth=lambda c: re.sub(r", salt=[^,]*", "", a(c))),
        Case("parts without commas", 400, "ValidationError",
             auth=lambda c: a(c).replace(", ", " ")),
        Case("header of 513 bytes", 400, "ValidationError",
             auth=lambda c: padded_header(c, AUTH_HEADER_BYTES_MAX + 1)),
        Case("date 16 minutes ahead", 403, "RequestTimeTooSkewed",
             auth=lambda c: a(c, date=skewed(16))),
        Case("date 16 minutes behind", 403, "RequestTimeTooSkewed",
             auth=lambda c: a(c, date=skewed(-16))),
        Case("date in 1970", 403, "RequestTimeTooSkewed",
             auth=lambda c: a(c, date="1970-01-01T00:00:00Z")),
        Case("date in 9999", 403, "RequestTimeTooSkewed",
             auth=lambda c: a(c, date="9999-12-31T23:59:59.999Z")),
        Case("unknown apiKey", 403, "InvalidAPIKey", auth=lambda c: a(c, apiKey="A" * 16)),
        Case("revoked apiKey", 403, "InvalidAPIKey", who="revoked"),
        Case("wrong signature", 403, "SignatureDoesNotMatch",
             auth=lambda c: a(c, signature="0" * 64)),
        Case("SHA-256 signature under HMAC-MD5's length", 403, "SignatureDoesNotMatch",
             auth=lambda c: a(c, method="HMAC-MD5", signature="0" * 32)),
        Case("signature in upper case of another salt", 403, "SignatureDoesNotMatch",
             auth=lambda c: a(c, salt=random_salt(), signature=a(c).rsplit("=", 1)[1].upper())),
        Case("a signature used before", 403, "DuplicatedSignature",
             auth=lambda c: c.used_header),
        Case("a used signature on another path", 403, "DuplicatedSignature",
             path="/cash/v1/balance/history", auth=lambda c: c.used_header),
        Case("a used signature on a write", 403, "DuplicatedSignature", method="POST",
             path=WITHDRAW, body=b'{"amount": 20000}', auth=lambda c: c.used_header),
        Case("read scope only, on a write", 403, "MissingAccountPermission", method="POST",
             path=WITHDRAW, body=b'{"amount": 20000}', who="reader"),
        Case("write scope only, on a read", 403, "MissingAccountPermission", who="writer"),
        Case("DEVELOPER withdrawing", 403, "MissingMemberPermission", method="POST",
             path=WITHDRAW, body=b'{"amount": 20000}', who="developer"),
        Case("MEMBER deleting the bank account", 403, "MissingMemberPermission",
             method="DELETE", path=BANK, who="member"),
        Case("MEMBER creating a verification", 403, "MissingMemberPermission", method="POST",
             path=VERIFICATIONS, body=b'{"method": "EMAIL_OTP"}', who="member"),
        Case("INACTIVE account", 403, "AccountNotActive", who="inactive_account"),
        Case("DELETED account", 403, "AccountNotActive", who="deleted_account"),
        Case("INACTIVE member", 403, "MemberNotActive", who="inactive_member"),
        Case("UNVERIFIED member", 403, "MemberNotActive", who="unverified_member"),
        Case("DELETED member", 403, "MemberNotActive", who="deleted_member"),
        Case("unverified account withdrawing", 403, "AccountNotVerified", method="POST",
             path=WITHDRAW, body=b'{"amount": 20000}', who="unverified_account"),
        Case("permissions before the body", 403, "MissingMemberPermission", method="POST",
             path=WITHDRAW, body=b"not json", content_type="text/plain", who="developer"),
    ]
    return cases


def body_cases():
    w = dict(method="POST", path=WITHDRAW)
    exactly_16_kib = b'{"amount": 999' + b" " * (BODY_BYTES_MAX - 15) + b"}"
    assert len(exactly_16_kib) == BODY_BYTES_MAX
    cases = [
        Case("body of 16 KiB + 1", 413, "PayloadTooLarge",
             body=b'{"amount": 20000' + b" " * BODY_BYTES_MAX + b"}", **w),
        Case("body of 16 KiB + 1 without Authorization", 413, "PayloadTooLarge",
             body=b"x" * (BODY_BYTES_MAX + 1), auth=None, **w),
        Case("body of 160 KiB as text", 413, "PayloadTooLarge", body=b"x" * (10 * BODY_BYTES_MAX),
             content_type="text/plain", **w),
        Case("body of exactly 16 KiB", 400, "ValidationError", body=exactly_16_kib, **w),
        Case("no Content-Type", 415, "UnsupportedMediaType", body=b'{"amount": 20000}',
             content_type=None, **w),
        Case("Content-Type text/plain", 415, "UnsupportedMediaType", body=b'{"amount": 20000}',
             content_type="text/plain", **w),
        Case("Content-Type form", 415, "UnsupportedMediaType", body=b"amount=20000",
             content_type="application/x-www-form-urlencoded", **w),
        Case("Content-Type multipart", 415, "UnsupportedMediaType", body=b'{"amount": 20000}',
             content_type="multipart/form-data; boundary=x", **w),
        Case("Content-Type application/jsonx", 415, "UnsupportedMediaType",
             body=b'{"amount": 20000}', content_type="application/jsonx", **w),
        Case("Content-Type json-patch", 415, "UnsupportedMediaType", body=b'{"amount": 20000}',
             content_type="application/json-patch+json", **w),
        Case("Content-Type charset latin1", 415, "UnsupportedMediaType",
             body=b'{"amount": 20000}', content_type="application/json; charset=iso-8859-1", **w),
        Case("Content-Type list", 415, "UnsupportedMediaType", body=b'{"amount": 20000}',
             content_type="application/json, text/plain", **w),
        Case("empty Content-Type", 415, "UnsupportedMediaType", body=b'{"amount": 20000}',
             content_type="", **w),
        Case("Content-Type in capitals is JSON", 400, "ValidationError", body=b'{"amount": 999}',
             content_type="APPLICATION/JSON; CHARSET=UTF-8", **w),
        Case("a body on a GET", 400, "ValidationError", body=b'{"a": 1}'),
        Case("a body on a cancel", 400, "ValidationError", method="POST",
             path=lambda t: WITHDRAW + "/%s/cancel" % t.own_canceled_id, body=b'{"a": 1}'),
        Case("content type before JSON", 415, "UnsupportedMediaType", body=b"not json",
             content_type="text/plain", **w),
    ]
    invalid = {
        "not JSON": b"amount=20000",
        "truncated": b'{"amount": 20000',
        "trailing garbage": b'{"amount": 20000} x',
        "two objects": b'{"amount": 20000}{"amount": 20000}',
        "single quotes": b"{'amount': 20000}",
        "trailing comma": b'{"amount": 20000,}',
        "comment": b'{"amount": 20000 /* x */}',
        "unquoted key": b"{amount: 20000}",
        "leading zero": b'{"amount": 020000}',
        "NaN": b'{"amount": NaN}',
        "Infinity": b'{"amount": Infinity}',
        "hex number": b'{"amount": 0x4e20}',
        "plus sign": b'{"amount": +20000}',
        "invalid UTF-8": b'{"amount": 20000, "m": "\xff\xfe"}',
        "invalid UTF-8 in a key": b'{"amo\xc3\x28unt": 20000}',
        "overlong UTF-8": b'{"amount": 20000, "m": "\xc0\xaf"}',
        "UTF-8 surrogate": b'{"amount": 20000, "m": "\xed\xa0\x80"}',
        "lone surrogate escape": b'{"amount": 20000, "m": "\\ud800"}',
        "NUL escape": b'{"amount": 20000, "m": "a\\u0000b"}',
        "raw control character": b'{"amount": 20000, "m": "a\x01b"}',
        "UTF-8 byte order mark": b'\xef\xbb\xbf{"amount": 20000}',
        "UTF-16": '{"amount": 20000}'.encode("utf-16"),
        "gzip": gzip.compress(b'{"amount": 20000}'),
        "duplicated key": b'{"amount": 20000, "amount": 20000}',
        "duplicated key, other values": b'{"amount": 1, "amount": 20000}',
        "duplicated nested key": b'{"amount": 20000, "x": {"a": 1, "a": 2}}',
        "array": b"[20000]",
        "string": b'"20000"',
        "number": b"20000",
        "null": b"null",
        "true": b"true",
        "empty": b"",
        "whitespace": b" \r\n\t ",
        "depth 9": nested(9),
        "depth 200": nested(200),
        "arrays 9 deep": b'{"amount": ' + b"[" * 8 + b"1" + b"]" * 8 + b"}",
    }
    for name, body in invalid.items():
        cases.append(Case("body: %s" % name, 400, "InvalidJSON", body=body, **w))
    cases.append(Case("gzip with Content-Encoding", 400, "InvalidJSON",
                      body=gzip.compress(b'{"amount": 20000}'),
                      headers={"Content-Encoding": "gzip"}, **w))
    cases.append(Case("body: depth 8 is JSON", 400, "ValidationError", body=nested(8), **w))
    return cases


def amount_cases():
    w = dict(method="POST", path=WITHDRAW)
    cases = []
    for name, text in (("missing", "{}"), ("999 (below the minimum)", '{"amount": 999}'),
                       ("50000001 (above the maximum)", '{"amount": 50000001}'),
                       ("0", '{"amount": 0}'), ("-1", '{"amount": -1}'),
                       ("-20000", '{"amount": -20000}'), ("20000.0", '{"amount": 20000.0}'),
                       ("20000.5", '{"amount": 20000.5}'), ("2e4", '{"amount": 2e4}'),
                       ("1e400", '{"amount": 1e400}'),
                       ("2^63 - 1", '{"amount": 9223372036854775807}'),
                       ("2^63", '{"amount": 9223372036854775808}'),
                       ("-2^63 - 1", '{"amount": -9223372036854775809}'),
                       ("10^30", '{"amount": 1000000000000000000000000000000}'),
                       ("a string", '{"amount": "20000"}'), ("true", '{"amount": true}'),
                       ("null", '{"amount": null}'), ("an array", '{"amount": [20000]}'),
                       ("an object", '{"amount": {"value": 20000}}'),
                       ("with an unknown field", '{"amount": 20000, "memo": "x"}'),
                       ("with the vendor's currency", '{"amount": 20000, "currency": "KRW"}'),
                       ("key in another case", '{"Amount": 20000}')):
        cases.append(Case("amount %s" % name, 400, "ValidationError", body=text.encode(), **w))
    cases += [
        Case("amount at the minimum, no balance", 400, "NotEnoughBalance", who="poor",
             body=json_body({"amount": MIN}), **w),
        Case("amount above the balance", 400, "NotEnoughBalance",
             body=json_body({"amount": 100001}), **w),
        Case("amount past the daily limit", 400, "DailyLimitExceeded",
             body=json_body({"amount": DAILY_LIMIT + 1}), **w),
        Case("amount at the maximum, past the daily limit", 400, "DailyLimitExceeded",
             body=json_body({"amount": MAX}), **w),
        Case("no bank account", 400, "BankAccountNotRegistered", who="nobank",
             body=json_body({"amount": 20000}), **w),
        Case("no verification", 403, "SecondFactorRequired", who="noverify",
             body=json_body({"amount": 20000}), **w),
        Case("X-Verification-Id of 31 digits", 403, "SecondFactorRequired",
             body=json_body({"amount": 20000}), headers={"X-Verification-Id": "1" * 31}, **w),
        Case("X-Verification-Id not digits", 403, "SecondFactorRequired",
             body=json_body({"amount": 20000}), headers={"X-Verification-Id": "x" * 32}, **w),
        Case("X-Verification-Id unknown", 403, "SecondFactorRequired",
             body=json_body({"amount": 20000}), headers={"X-Verification-Id": ZERO_ID}, **w),
        Case("X-Verification-Id not ASCII", 403, "SecondFactorRequired",
             body=json_body({"amount": 20000}), headers={"X-Verification-Id": "\u00e9" * 16},
             **w),
        Case("X-Verification-Id of another member", 403, "SecondFactorRequired",
             body=json_body({"amount": 20000}),
             headers=lambda t: {"X-Verification-Id": t.other_verification_id}, **w),
        Case("X-Verification-Id still pending", 403, "SecondFactorRequired",
             body=json_body({"amount": 20000}),
             headers=lambda t: {"X-Verification-Id": t.pending_verification_id}, **w),
        Case("cancel of a canceled withdrawal", 409, "InvalidStatus", method="POST",
             path=lambda t: WITHDRAW + "/%s/cancel" % t.own_canceled_id),
    ]
    return cases


def bank_cases():
    good = {"bankCode": "004", "accountNumber": "123-456-7890", "holderName": "홍길동"}
    cases = []

    def bank(name, status, code, who="noverify", **changes):
        body = dict(good)
        for key, value in changes.items():
            if value is None:
                body.pop(key)
            else:
                body[key] = value
        cases.append(Case("bank: %s" % name, status, code, method="POST", path=BANK,
                          body=json_body(body), who=who))

    bad = "ValidationError"
    bank("bankCode of 2 digits", 400, bad, bankCode="04")
    bank("bankCode of 17 digits", 400, bad, bankCode="1" * 17)
    bank("bankCode with a letter", 400, bad, bankCode="00A")
    bank("bankCode a number", 400, bad, bankCode=4)
    bank("bankCode missing", 400, bad, bankCode=None)
    bank("accountNumber of 5 digits", 400, bad, accountNumber="12345")
    bank("accountNumber of 21 digits", 400, bad, accountNumber="1" * 21)
    bank("accountNumber with a double hyphen", 400, bad, accountNumber="123--4567")
    bank("accountNumber with a leading hyphen", 400, bad, accountNumber="-1234567")
    bank("accountNumber with a trailing hyphen", 400, bad, accountNumber="1234567-")
    bank("accountNumber with a space", 400, bad, accountNumber="123 4567")
    bank("accountNumber with full-width digits", 400, bad, accountNumber="１２３４５６７")
    bank("accountNumber a number", 400, bad, accountNumber=1234567)
    bank("holderName empty", 400, bad, holderName="")
    bank("holderName blank", 400, bad, holderName="   ")
    bank("holderName of 121 bytes", 400, bad, holderName="a" * 121)
    bank("holderName with a control character", 400, bad, holderName="a\u0007b")
    bank("holderName with a newline", 400, bad, holderName="a\nb")
    bank("holderName with DEL", 400, bad, holderName="a\u007fb")
    bank("holderName missing", 400, bad, holderName=None)
    bank("authenticationCode a number", 400, bad, authenticationCode=123)
    bank("an unknown field", 400, bad, bank="x")
    # At the limits: valid, so the next check answers (the second factor, which is missing).
    bank("bankCode of 3 digits", 403, "SecondFactorRequired", bankCode="004")
    bank("bankCode of 16 digits", 403, "SecondFactorRequired", bankCode="1" * 16)
    bank("accountNumber of 6 digits", 403, "SecondFactorRequired", accountNumber="123456")
    bank("accountNumber of 20 digits", 403, "SecondFactorRequired", accountNumber="1" * 20)
    bank("holderName of 120 bytes", 403, "SecondFactorRequired", holderName="가" * 40)
    cases.append(Case("bank: delete with none registered", 404, "NotFound", method="DELETE",
                      path=BANK, who="nobank"))
    cases.append(Case("bank: get with none registered", 404, "NotFound", path=BANK,
                      who="nobank"))
    return cases


def verification_cases():
    cases = []
    for name, text in (("method SMS", '{"method": "SMS"}'),
                       ("method in lower case", '{"method": "email_otp"}'),
                       ("method a number", '{"method": 1}'), ("method missing", "{}"),
                       ("an unknown field", '{"method": "EMAIL_OTP", "to": "x@example.com"}')):
        cases.append(Case("verification: %s" % name, 400, "ValidationError", method="POST",
                          path=VERIFICATIONS, body=text.encode()))
    for name, text in (("code a number", '{"code": 123456}'), ("code of 5", '{"code": "12345"}'),
                       ("code of 7", '{"code": "1234567"}'),
                       ("code not digits", '{"code": "12345a"}'),
                       ("code full-width", '{"code": "１２３４５６"}'),
                       ("code missing", "{}"),
                       ("an unknown field", '{"code": "123456", "x": 1}')):
        cases.append(Case("confirm: %s" % name, 400, "ValidationError", method="POST",
                          path=lambda t: VERIFICATIONS + "/%s/confirm" % t.pending_verification_id,
                          body=text.encode()))
    cases.append(Case("confirm: already confirmed", 409, "InvalidStatus", method="POST",
                      path=lambda t: VERIFICATIONS + "/%s/confirm" % t.verification_id,
                      body=b'{"code": "000000"}'))
    cases.append(Case("confirm: another member's", 404, "NotFound", method="POST",
                      path=lambda t: VERIFICATIONS + "/%s/confirm" % t.other_verification_id,
                      body=b'{"code": "000000"}'))
    return cases


def query_cases():
    bad = "ValidationError"
    seventeen = [("%s[%s]" % (field, op), "1") for field in ("amount", "fee", "totalAmount")
                 for op in ("gt", "gte", "lt", "lte", "ne")]
    sixteen = seventeen + [("withdrawId[ne]", ZERO_ID)]
    seventeen = sixteen + [("dateCreated[gt]", "2026-01-01T00:00:00Z")]
    thirty_three = [("p%d" % i, "1") for i in range(33)]
    cases = []
    for name, pairs in (
            ("limit=0", [("limit", "0")]), ("limit=101", [("limit", "101")]),
            ("limit=-1", [("limit", "-1")]), ("limit=1.5", [("limit", "1.5")]),
            ("limit=abc", [("limit", "abc")]), ("limit empty", [("limit", "")]),
            ("limit of 20 digits", [("limit", "9" * 20)]), ("limit=+5", [("limit", "+5")]),
            ("limit repeated", [("limit", "1"), ("limit", "2")]),
            ("status=FOO", [("status", "FOO")]), ("status in lower case", [("status", "pending")]),
            ("withdrawId of 31", [("withdrawId", "1" * 31)]),
            ("startKey not an id", [("startKey", "abc")]),
            ("startDate not a date", [("startDate", "yesterday")]),
            ("startDate month 13", [("startDate", "2026-13-01T00:00:00Z")]),
            ("endDate without a zone", [("endDate", "2026-11-24T00:00:00")]),
            ("amount[gte]=-1", [("amount[gte]", "-1")]),
            ("amount[gte] past 10^12", [("amount[gte]", "1000000000001")]),
            ("amount[like]", [("amount[like]", "1")]), ("fee[eq]", [("fee[eq]", "1")]),
            ("status[gt]", [("status[gt]", "PENDING")]),
            ("holderName[gt]", [("holderName[gt]", "a")]),
            ("bankCode[ne] of 2 digits", [("bankCode[ne]", "04")]),
            ("holderName[like] of 121 bytes", [("holderName[like]", "a" * 121)]),
            ("holderName[like] not UTF-8", [("holderName[like]", "\udcff")]),
            ("amount[gte without ]", [("amount[gte", "1")]), ("amount[]", [("amount[]", "1")]),
            ("[gte] alone", [("[gte]", "1")]), ("amount[gte]x", [("amount[gte]x", "1")]),
            ("unknown parameter", [("foo", "1")]), ("empty name", [("", "1")]),
            ("17 conditions", seventeen), ("33 parameters", thirty_three)):
        encoded = "&".join("%s=%s" % (k, urllib.parse.quote(v, safe="[]", errors="surrogateescape"))
                           for k, v in pairs)
        cases.append(Case("list: %s" % name, 400, bad, path=WITHDRAW + "?" + encoded))
    cases.append(Case("list: NUL in a value", 400, bad, path=WITHDRAW + "?limit=1%00abc"))
    for name, pairs in (("limit=1", [("limit", "1")]), ("limit=100", [("limit", "100")]),
                        ("amount[gte] at 10^12", [("amount[gte]", "1000000000000")]),
                        ("16 conditions", sixteen)):
        cases.append(Case("list at the limit: %s" % name, 200, None, path=query(WITHDRAW, *pairs)))
    history = "/cash/v1/balance/history"
    for name, pairs in (("offset=-1", [("offset", "-1")]),
                        ("offset past 10^9", [("offset", "1000000001")]),
                        ("type=FOO", [("type", "FOO")]), ("type in lower case", [("type",
                                                                                 "withdraw")]),
                        ("limit=0", [("limit", "0")]), ("limit=101", [("limit", "101")]),
                        ("startDate not a date", [("startDate", "x")]),
                        ("unknown parameter", [("status", "PENDING")]),
                        ("offset repeated", [("offset", "1"), ("offset", "1")])):
        cases.append(Case("history: %s" % name, 400, bad, path=query(history, *pairs)))
    cases.append(Case("history at the limit: offset=10^9", 200, None,
                      path=query(history, ("offset", "1000000000"))))
    quote = WITHDRAW + "/quote"
    for name, pairs in (("no amount", []), ("amount=abc", [("amount", "abc")]),
                        ("amount=1.5", [("amount", "1.5")]), ("amount=999", [("amount", "999")]),
                        ("amount=50000001", [("amount", "50000001")]),
                        ("amount=-0", [("amount", "-0")]), ("amount of 19 digits",
                                                            [("amount", "9" * 19)]),
                        ("amount repeated", [("amount", "1000"), ("amount", "1000")]),
                        ("amount and more", [("amount", "1000"), ("x", "1")]),
                        ("amount empty", [("amount", "")])):
        cases.append(Case("quote: %s" % name, 400, bad,
                          path=query(quote, *pairs) if pairs else quote))
    for name, amount in (("at the minimum", MIN), ("at the maximum", MAX)):
        cases.append(Case("quote %s" % name, 200, None, path=query(quote, ("amount", str(amount)))))
    cases.append(Case("balance with a parameter", 400, bad, path="/cash/v1/balance?x=1"))
    cases.append(Case("bank account with a parameter", 400, bad, path=BANK + "?x=1"))
    return cases


def header_cases():
    return [
        Case("headers over 8 KiB", 431, "HeadersTooLarge",
             headers={"X-Pad": "a" * HEADER_BYTES_MAX}),
        Case("Authorization not ASCII", 400, "ValidationError",
             auth=lambda c: header_for(c, salt="\u00e9" * 12)),
        Case("header of 512 bytes is read", 200, None,
             auth=lambda c: padded_header(c, AUTH_HEADER_BYTES_MAX)),
        Case("date 14 minutes ahead is read", 200, None,
             auth=lambda c: header_for(c, date=skewed(14))),
        Case("salt of 12 bytes is read", 200, None, auth=lambda c: header_for(c, salt="b" * 12)),
        Case("salt of 64 bytes is read", 200, None, auth=lambda c: header_for(c, salt="c" * 64)),
    ]


def raw_cases():
    """Requests no HTTP client library would send: framing, encodings, slow and cut short."""
    def r(name, status, code, build, steps=None, client_closes=False):
        return Case(name, status, code, raw=build, steps=steps, client_closes=client_closes)

    withdraw = b"/cash/v1/withdraw"
    json_type = b"Content-Type: application/json\r\n"
    body = b'{"amount": 999}'
    cl = b"Content-Length: %d\r\n" % len(body)
    return [
        r("a request line of garbage", None, None, lambda a: b"GARBAGE\r\n\r\n"),
        r("HTTP/2.0 on a text request line", 505, None,
          lambda a: b"GET /cash/v1/balance HTTP/2.0\r\nHost: x\r\n" + a + b"\r\n"),
        r("a header line without a colon", 400, None,
          lambda a: request_line(b"GET", b"/cash/v1/balance", a, b"BadHeader\r\n")),
        r("Content-Length not a number", 400, None,
          lambda a: request_line(b"POST", withdraw, a, json_type + b"Content-Length: abc\r\n")),
        r("Content-Length negative", 400, None,
          lambda a: request_line(b"POST", withdraw, a, json_type + b"Content-Length: -1\r\n")),
        r("two Content-Length headers", 400, "ValidationError",
          lambda a: request_line(b"POST", withdraw, a, json_type + cl + cl, body)),
        r("two different Content-Length headers", 400, "ValidationError",
          lambda a: request_line(b"POST", withdraw, a, json_type + cl +
                                 b"Content-Length: 3\r\n", body)),
        r("Content-Length beside chunked", 400, "ValidationError",
          lambda a: request_line(b"POST", withdraw, a, json_type + cl +
                                 b"Transfer-Encoding: chunked\r\n",
                                 b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))),
        r("Content-Length of 1 MiB, all sent", 413, "PayloadTooLarge",
          lambda a: request_line(b"POST", withdraw, a, json_type +
                                 b"Content-Length: %d\r\n" % (1 << 20), b" " * (1 << 20))),
        r("Expect: 100-continue for 10^11 bytes", 413, "PayloadTooLarge",
          lambda a: request_line(b"POST", withdraw, a, json_type +
                                 b"Content-Length: 100000000000\r\nExpect: 100-continue\r\n")),
        r("Content-Length past 2^64", 413, None,
          lambda a: request_line(b"POST", withdraw, a, json_type +
                                 b"Content-Length: 99999999999999999999999\r\n")),
        r("Expect: 100-continue for 1 MB", 413, "PayloadTooLarge",
          lambda a: request_line(b"POST", withdraw, a, json_type +
                                 b"Content-Length: 1000000\r\nExpect: 100-continue\r\n")),
        r("chunked body", 400, "ValidationError",
          lambda a: request_line(b"POST", withdraw, a, json_type +
                                 b"Transfer-Encoding: chunked\r\n",
                                 b"5\r\n{\"amo\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body) - 5,
                                                                          body[5:]))),
        r("chunked body over 16 KiB", 413, "PayloadTooLarge",
          lambda a: request_line(b"POST", withdraw, a, json_type +
                                 b"Transfer-Encoding: chunked\r\n",
                                 (b"4000\r\n" + b" " * 0x4000 + b"\r\n") * 2 + b"0\r\n\r\n")),
        r("chunk size not hex", 400, None,
          lambda a: request_line(b"POST", withdraw, a, json_type +
                                 b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n")),
        r("URL of 30000 bytes", 414, None,
          lambda a: request_line(b"GET", b"/" + b"a" * 30000, a)),
        r("headers of 30000 bytes", 431, None,
          lambda a: request_line(b"GET", b"/cash/v1/balance", a, b"X-Pad: " + b"a" * 30000 +
                                 b"\r\n")),
        r("300 headers", 431, None,
          lambda a: request_line(b"GET", b"/cash/v1/balance", a,
                                 b"".join(b"X-H%d: v\r\n" % i for i in range(300)))),
        r("a control character in the path", 404, "NotFound",
          lambda a: request_line(b"GET", b"/cash/v1/bal\x01ance", a)),
        r("an absolute URL", 404, "NotFound",
          lambda a: request_line(b"GET", b"http://127.0.0.1/cash/v1/balance", a)),
        r("an asterisk target", 404, "NotFound",
          lambda a: request_line(b"OPTIONS", b"*", a)),
        r("bare LF line ends", 401, "Unauthorized",
          lambda a: b"GET /cash/v1/balance HTTP/1.1\nHost: x\n\n"),
        r("HTTP/1.0 without Host", 401, "Unauthorized",
          lambda a: b"GET /cash/v1/balance HTTP/1.0\r\n\r\n"),
        r("two Authorization headers, junk first", 400, "ValidationError",
          lambda a: request_line(b"GET", b"/cash/v1/balance", b"Authorization: junk\r\n" + a)),
        r("a NUL byte in Authorization", 400, "ValidationError",
          lambda a: request_line(b"GET", b"/cash/v1/balance", a.replace(b"salt=", b"salt=\x00"))),
        r("a slow body, one byte at a time", 400, "ValidationError",
          lambda a: request_line(b"POST", withdraw, a, json_type + cl),
          steps=[(bytes([byte]), 0.03) for byte in body]),
        r("a slow request line", 401, "Unauthorized", lambda a: b"",
          steps=[(b"GET /cash/v1/bal", 0.3), (b"ance HTTP/1.1\r\nHost: x\r\n", 0.3),
                 (b"\r\n", 0)]),
        r("a body cut short, then closed", None, None,
          lambda a: request_line(b"POST", withdraw, a, json_type + b"Content-Length: 100\r\n",
                                 b'{"amount": 20000'), client_closes=True),
        r("headers cut short, then closed", None, None,
          lambda a: b"POST /cash/v1/withdraw HTTP/1.1\r\nHost: x\r\nContent-Le",
          client_closes=True),
    ]


def catalogue():
    return (path_cases() + method_cases() + auth_cases() + body_cases() + amount_cases() +
            bank_cases() + verification_cases() + query_cases() + header_cases() + raw_cases())


# ---- running it ----

class RawReply:
    """An answer read off a bare socket: status, lower-case headers, body, JSON if it is."""

    def __init__(self, data):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            self.headers[name.decode().strip().lower()] = value.decode("latin-1").strip()
        self.body = body
        try:
            self.json = strict_json(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error_code(self):
        return self.json.get("errorCode") if isinstance(self.json, dict) else None

    def __repr__(self):
        return "HTTP %d %r" % (self.status, self.body[:300])


def read_reply(sock):
    """One HTTP answer, or None if the server closed the connection without one."""
    data = b""
    while True:
        if b"\r\n\r\n" in data:
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
            if head.startswith(b"HTTP/1.1 100"):
                data = body
                continue
            if length is None or len(body) >= int(length.group(1)):
                return RawReply(data)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return RawReply(data) if data else None
        data += chunk


class CatalogueTest(ServerTestCase):
    server_env = {"CASHD_DAILY_LIMIT": str(DAILY_LIMIT), "CASHD_VERIFICATION_MAX_USES": "5",
                  "CASHD_THREADS": "4"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_customers()

    @classmethod
    def make_customers(cls):
        server = cls.server
        make = make_customer
        owner = make(server, balance=100000)
        cls.customers = {"owner": owner}
        owner_client = owner.client()
        cls.verification_id = verify(owner_client, server)
        created = owner_client.withdraw(20000)
        assert created.status == 200, created
        cls.own_canceled_id = created.json["withdrawId"]
        canceled = owner_client.post(WITHDRAW + "/%s/cancel" % cls.own_canceled_id)
        assert canceled.status == 200, canceled
        pending = owner_client.create_verification()
        assert pending.status == 200, pending
        cls.pending_verification_id = pending.json["verificationId"]
        owner.used_header = owner_client.sign()
        used = owner_client.raw("GET", "/cash/v1/balance",
                                headers={"Authorization": owner.used_header})
        assert used.status == 200, used
        owner_client.close()

        other = make(server, balance=100000)
        other_client = other.client()
        cls.other_verification_id = verify(other_client, server)
        created = other_client.withdraw(20000)
        assert created.status == 200, created
        cls.other_withdraw_id = created.json["withdrawId"]
        other_client.close()

        cls.customers["poor"] = cls.verified(make(server, balance=0))
        cls.customers["nobank"] = cls.verified(make(server, balance=100000, bank=False))
        cls.customers["noverify"] = make(server, balance=100000)
        cls.customers["reader"] = add_member(server, owner.account_id, scopes="cash:read")
        cls.customers["writer"] = add_member(server, owner.account_id, scopes="cash:write")
        cls.customers["developer"] = add_member(server, owner.account_id, role="DEVELOPER")
        cls.customers["member"] = add_member(server, owner.account_id, role="MEMBER")
        cls.customers["inactive_account"] = make(server, account_status="INACTIVE")
        cls.customers["deleted_account"] = make(server, account_status="DELETED")
        for status in ("INACTIVE", "UNVERIFIED", "DELETED"):
            cls.customers["%s_member" % status.lower()] = add_member(
                server, owner.account_id, member_status=status)
        cls.customers["unverified_account"] = make(server, verified="none")
        revoked = add_member(server, owner.account_id)
        ctl_ok(server.db, "apikey", "revoke", revoked.api_key)
        cls.customers["revoked"] = revoked

    @classmethod
    def verified(cls, customer):
        """customer, with a confirmed verification it has not used."""
        client = customer.client()
        verify(client, cls.server)
        client.close()
        return customer

    def resolve(self, value):
        return value(self) if callable(value) else value

    def auth_value(self, case, customer):
        if case.auth is SIGNED:
            return header_for(customer)
        if callable(case.auth):
            return case.auth(customer)
        return case.auth

    def send(self, case):
        customer = self.customers[case.who]
        auth = self.auth_value(case, customer)
        if case.raw is not None:
            line = b"" if auth is None else b"Authorization: " + auth.encode() + b"\r\n"
            return self.send_raw(case.raw(line), case.steps, case.client_closes)
        headers = dict(self.resolve(case.headers))
        if auth is not None:
            headers["Authorization"] = auth
        if case.body is not None and case.content_type is JSON:
            headers["Content-Type"] = "application/json"
        elif case.content_type not in (JSON, None):
            headers["Content-Type"] = case.content_type
        method = case.method
        path = self.resolve(case.path)
        return self.send_raw(self.http_bytes(method, path, headers, case.body))

    @staticmethod
    def http_bytes(method, path, headers, body):
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1", "Connection: close"]
        for name, value in headers.items():
            lines.append("%s: %s" % (name, value))
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
        return "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + (body or b"")

    def send_raw(self, data, steps=None, client_closes=False):
        """Sends data (then each step), and reads the answer unless the client goes away."""
        sock = socket.create_connection(("127.0.0.1", self.server.port),
                                        timeout=SOCKET_TIMEOUT_SECONDS)
        try:
            try:
                sock.sendall(data)
                for chunk, pause in steps or []:
                    sock.sendall(chunk)
                    time.sleep(pause)
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered before the whole request was sent: the answer is still there
            if client_closes:
                return None
            return read_reply(sock)
        finally:
            sock.close()

    def check(self, case, reply):
        if case.status is None:
            self.assertIsNone(reply, "no answer expected")
            return
        self.assertIsNotNone(reply, "the connection was closed without an answer")
        self.assertEqual(reply.status, case.status, reply)
        if case.code is not None:
            self.assertIsInstance(reply.json, dict, reply)
            self.assertEqual(reply.error_code, case.code, reply)
            self.assertIsInstance(reply.json.get("errorMessage"), str, reply)
            self.assertTrue(reply.json["errorMessage"], reply)
            content_type = reply.headers.get("content-type", "").replace(" ", "").lower()
            self.assertEqual(content_type, "application/json;charset=utf-8", reply)
        elif case.status == 200:
            self.assertIsInstance(reply.json, dict, reply)

    def test_every_malformed_request_is_refused_and_changes_nothing(self):
        cases = catalogue()
        names = [case.name for case in cases]
        self.assertEqual(len(names), len(set(names)), "case names are unique")
        self.assertGreaterEqual(len(cases), 150)
        before = stored_rows(self.server.db)
        failures = []
        for case in cases:
            with self.subTest(case=case.name):
                reply = self.send(case)
                try:
                    self.check(case, reply)
                except AssertionError:
                    failures.append(case.name)
                    raise
        after = stored_rows(self.server.db)
        for table in before:
            self.assertEqual(after[table], before[table], "table %s changed" % table)
        self.assert_log_clean()
        print("catalogue: %d cases, %d failed" % (len(cases), len(failures)))

    def assert_log_clean(self):
        """SPEC 8: secrets and full account numbers never reach the log."""
        log = self.server.log_text()
        for customer in self.customers.values():
            self.assertNotIn(customer.api_secret, log)
        for number in ("1234567890", "123-456-7890"):
            self.assertNotIn(number, log)


if __name__ == "__main__":
    unittest.main()
