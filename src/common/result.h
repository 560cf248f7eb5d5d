/*
 * result.h - one result code per rejection, and the one table that maps each code to its HTTP
 * status, its stable errorCode and a default message (ARCHITECTURE: house style 1).
 */
#ifndef CASH_RESULT_H
#define CASH_RESULT_H

/* X(code, http_status, errorCode, default message) */
#define CASH_RESULT_TABLE(X)                                                                           \
    X(CASH_OK, 200, "OK", "ok")                                                                        \
    X(CASH_VALIDATION_ERROR, 400, "ValidationError", "the request is not valid")                       \
    X(CASH_INVALID_JSON, 400, "InvalidJSON", "the body is not a valid JSON object")                    \
    X(CASH_UNAUTHORIZED, 401, "Unauthorized", "the Authorization header is missing")                   \
    X(CASH_REQUEST_TIME_TOO_SKEWED, 403, "RequestTimeTooSkewed", "the request date is too far from server time") \
    X(CASH_DUPLICATED_SIGNATURE, 403, "DuplicatedSignature", "this signature has already been used")  \
    X(CASH_INVALID_API_KEY, 403, "InvalidAPIKey", "the API key is not valid")                          \
    X(CASH_SIGNATURE_DOES_NOT_MATCH, 403, "SignatureDoesNotMatch", "the signature does not match")    \
    X(CASH_MISSING_ACCOUNT_PERMISSION, 403, "MissingAccountPermission", "the API key lacks the account permission") \
    X(CASH_MISSING_MEMBER_PERMISSION, 403, "MissingMemberPermission", "the member's role lacks the permission") \
    X(CASH_ACCOUNT_NOT_ACTIVE, 403, "AccountNotActive", "the account is not ACTIVE")                   \
    X(CASH_MEMBER_NOT_ACTIVE, 403, "MemberNotActive", "the member is not ACTIVE")                      \
    X(CASH_ACCOUNT_NOT_VERIFIED, 403, "AccountNotVerified", "the account has not passed identity verification") \
    X(CASH_SECOND_FACTOR_REQUIRED, 403, "SecondFactorRequired", "a confirmed second-factor verification is required") \
    X(CASH_NOT_FOUND, 404, "NotFound", "no such resource")                                             \
    X(CASH_METHOD_NOT_ALLOWED, 405, "MethodNotAllowed", "the method is not allowed on this path")      \
    X(CASH_INVALID_STATUS, 409, "InvalidStatus", "the resource is not in a state that allows this")    \
    X(CASH_PAYLOAD_TOO_LARGE, 413, "PayloadTooLarge", "the body is larger than 16 KiB")                \
    X(CASH_UNSUPPORTED_MEDIA_TYPE, 415, "UnsupportedMediaType", "the body must be application/json")   \
    X(CASH_NOT_ENOUGH_BALANCE, 400, "NotEnoughBalance", "the balance is not enough for this withdrawal") \
    X(CASH_BANK_ACCOUNT_NOT_REGISTERED, 400, "BankAccountNotRegistered", "no bank account is registered") \
    X(CASH_DAILY_LIMIT_EXCEEDED, 400, "DailyLimitExceeded", "the daily withdrawal limit would be exceeded") \
    X(CASH_INVALID_VERIFICATION_CODE, 400, "InvalidVerificationCode", "the verification code is wrong") \
    X(CASH_VERIFICATION_EXPIRED, 400, "VerificationExpired", "the verification has expired")           \
    X(CASH_TOO_MANY_ATTEMPTS, 429, "TooManyAttempts", "too many wrong codes: the verification is locked") \
    X(CASH_CONFLICT, 409, "Conflict", "the resource already exists")                                   \
    X(CASH_SERVICE_UNAVAILABLE, 503, "ServiceUnavailable", "the service is busy, try again")           \
    X(CASH_INTERNAL_ERROR, 500, "InternalError", "an internal error occurred")                       \
    X(CASH_URI_TOO_LONG, 414, "URITooLong", "the URL is longer than 2048 bytes")                   \
    X(CASH_HEADERS_TOO_LARGE, 431, "HeadersTooLarge", "the request headers are larger than 8 KiB") \
    X(CASH_TOO_MANY_REQUESTS, 429, "TooManyRequests", "too many verifications were asked for: wait and try again") \
    X(CASH_BANK_ACCOUNT_COOLING_OFF, 403, "BankAccountCoolingOff", "the bank account changed recently: withdrawals wait for the cooling-off period") \
    X(CASH_MAIL_DELIVERY_FAILED, 503, "MailDeliveryFailed", "the verification email could not be delivered") \
    X(CASH_ARS_CALL_FAILED, 503, "ArsCallFailed", "the phone gateway could not place the call") \
    X(CASH_IDEMPOTENCY_KEY_REUSED, 422, "IdempotencyKeyReused", "this Idempotency-Key was used with another request") \
    X(CASH_IDEMPOTENCY_KEY_IN_USE, 409, "IdempotencyKeyInUse", "a request with this Idempotency-Key is still in progress: retry later")

typedef enum cash_result {
#define CASH_RESULT_ENUM(code, status, name, message) code,
    CASH_RESULT_TABLE(CASH_RESULT_ENUM)
#undef CASH_RESULT_ENUM
        CASH_RESULT_COUNT
} cash_result;

/* HTTP status of a result (500 for an unknown value). */
unsigned result_http_status(cash_result result);
/* Stable errorCode string of a result; static storage. */
const char *result_error_code(cash_result result);
/* Default human message of a result; static storage. */
const char *result_message(cash_result result);

#endif
