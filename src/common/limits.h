/*
 * limits.h - every fixed limit of cashd in one place, units last (ARCHITECTURE: house style 4).
 * Limits an operator may tune live in config.h; these are the ones that shape buffers and parsers.
 */
#ifndef CASH_LIMITS_H
#define CASH_LIMITS_H

/* HTTP (SPEC 8) */
#define HTTP_BODY_BYTES_MAX (16 * 1024)
#define HTTP_URL_BYTES_MAX 2048
#define HTTP_HEADER_BYTES_MAX 8192
#define HTTP_QUERY_PARAMS_MAX 32
#define HTTP_CONNECTION_TIMEOUT_SECONDS 30
#define HTTP_CONNECTIONS_MAX 1024
#define HTTP_THREADS_DEFAULT 16 /* by measurement: docs/PERFORMANCE.md, "Group commit" */
#define JSON_DEPTH_MAX 8

/* Authorization header (SPEC 1) */
#define AUTH_HEADER_BYTES_MAX 512
#define AUTH_API_KEY_LENGTH 16
#define AUTH_API_SECRET_LENGTH 32
#define AUTH_SALT_BYTES_MIN 12
#define AUTH_SALT_BYTES_MAX 64
#define AUTH_DATE_BYTES_MAX 40
#define AUTH_SIGNATURE_HEX_MAX 128 /* SHA-256: 64 hex digits, MD5: 32 */
#define AUTH_SKEW_SECONDS_MAX (15 * 60)
#define AUTH_REPLAY_KEEP_SECONDS (30 * 60)
#define AUTH_MAC_CACHE_KEYS 16384 /* slots for keyed HMACs of recent API keys, per process */

/* Idempotency-Key (docs/API.md) */
#define IDEMPOTENCY_KEY_BYTES_MAX 255
#define IDEMPOTENCY_KEEP_SECONDS (24 * 60 * 60)
#define IDEMPOTENCY_FINGERPRINT_HEX_LENGTH 64 /* SHA-256 of method, path and body */
#define IDEMPOTENCY_IN_FLIGHT_MAX 128         /* keys one process holds in flight at once */

/* Identifiers */
#define ACCOUNT_ID_LENGTH 14
#define MEMBER_ID_LENGTH 14
#define WITHDRAW_ID_LENGTH 32
#define HISTORY_ID_LENGTH 32
#define VERIFICATION_ID_LENGTH 32

/* Text fields */
#define EMAIL_BYTES_MAX 254
#define PHONE_BYTES_MAX 20
#define BANK_CODE_BYTES_MAX 16
#define ACCOUNT_NUMBER_DIGITS_MIN 6
#define ACCOUNT_NUMBER_DIGITS_MAX 20
#define HOLDER_NAME_BYTES_MAX 120
#define MEMO_BYTES_MAX 500
#define SCOPES_BYTES_MAX 128
#define SEALED_BYTES_MAX 256 /* "keyid:base64(nonce|ciphertext|tag)" */
#define MASKED_NUMBER_BYTES_MAX 16 /* "******" + last 4 */
#define OPERATOR_NAME_BYTES_MAX 64

/* Listing (SPEC 2) */
#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX 100
#define LIST_CONDITIONS_MAX 16
#define HISTORY_OFFSET_MAX 1000000000LL

/* Money (SPEC 3): an absolute bound beyond any configurable maximum */
#define AMOUNT_WON_ABSOLUTE_MAX 1000000000000LL /* one trillion won */

/* Second factor (SPEC 5) */
#define VERIFICATION_CODE_DIGITS 6
#define VERIFICATION_ATTEMPTS_MAX 5
#define VERIFICATION_WINDOW_SECONDS (5 * 60)
#define ARS_CODE_DIGITS 2                     /* the arsCode typed on the phone's keypad */
#define GATEWAY_SKEW_SECONDS_MAX (5 * 60)     /* X-Cashd-Timestamp of a gateway callback */
#define GATEWAY_TIMESTAMP_DIGITS_MAX 12       /* Unix seconds */
#define GATEWAY_SIGNATURE_HEX_LENGTH 64       /* HMAC-SHA256 */
#define GATEWAY_REPLY_BYTES_MAX 4096          /* what cashd reads of a gateway's answer */
#define ARS_CALL_ID_BYTES_MAX 128             /* the gateway's own id of a call */
#define MAIL_MESSAGE_BYTES_MAX 8192           /* one verification email, headers and body */
#define TOTP_SECRET_BYTES 20                  /* RFC 4226: 160 bits */
#define TOTP_PERIOD_SECONDS 30                /* RFC 6238 */
#define TOTP_STEPS_TOLERATED 1                /* codes of one step before or after are taken */

/* Store */
#define DB_TIMEOUT_MS 10000
#define DB_URL_BYTES_MAX 1024
#define DB_READERS_MAX 8
#define DB_GROUP_COMMIT_JOBS_MAX 64 /* SQLite: write calls committed together, at most */
#define DB_CHECKPOINT_FRAMES 1000   /* SQLite: WAL frames that start a checkpoint (its default) */
#define DB_CHECKPOINT_CATCH_UP_FRAMES 4000 /* SQLite: past these the checkpoint holds the writer */
#define DB_POOL_DEFAULT 8   /* PostgreSQL: connections one process may open (CASHD_DB_POOL) */
#define DB_POOL_MAX 256
#define DB_TRANSACTION_ATTEMPTS_MAX 8 /* runs of a transaction failing with SQLSTATE 40001/40P01 */
#define DB_RETRY_BACKOFF_MS_MAX 64    /* the longest random pause before a run again */

/* Time */
#define KST_OFFSET_SECONDS (9 * 3600) /* Asia/Seoul has no daylight saving time */
#define ISO8601_BYTES_MAX 32

#endif
