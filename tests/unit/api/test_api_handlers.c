/*
 * The API handlers end to end without sockets: api_handle on signed requests against a real
 * SQLite store in CASHD_TEST_TMP. Covers the pipeline's order of checks, the console delivery
 * line, the second factor, withdrawals with their field order, paging with nextKey, cancel,
 * another account's resources and a mail setting that cannot deliver.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api_internal.h"
#include "common/config.h"
#include "common/ids.h"
#include "common/timeutil.h"

#define PATH_BYTES_MAX   512
#define HEADER_BYTES_MAX 512
#define LOG_BYTES_MAX    65536
#define ALNUM            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

struct caller {
    char account_id[ACCOUNT_ID_LENGTH + 1];
    char member_id[MEMBER_ID_LENGTH + 1];
    char email[EMAIL_BYTES_MAX + 1];
    char api_key[AUTH_API_KEY_LENGTH + 1];
    char api_secret[AUTH_API_SECRET_LENGTH + 1];
};

struct fixture {
    char db_path[PATH_BYTES_MAX];
    char key_path[PATH_BYTES_MAX];
    struct config config;
    struct keyring keyring;
    struct store *store;
    struct api *api;
    struct caller owner;
    struct caller other; /* a second account */
};

/* One answer, parsed. */
struct answer {
    unsigned status;
    char allow[HTTP_EXTRA_HEADER_BYTES_MAX];
    char retry_after[HTTP_EXTRA_HEADER_BYTES_MAX];
    char *text;
    json_t *json;
};

static void answer_free(struct answer *answer)
{
    free(answer->text);
    json_decref(answer->json);
    memset(answer, 0, sizeof(*answer));
}

static const char *error_code(const struct answer *answer)
{
    return json_string_value(json_object_get(answer->json, "errorCode"));
}

static const char *error_message(const struct answer *answer)
{
    return json_string_value(json_object_get(answer->json, "errorMessage"));
}

static const char *text_field(const json_t *object, const char *name)
{
    const char *text = json_string_value(json_object_get(object, name));
    assert_non_null(text);
    return text;
}

static json_int_t integer_field(const json_t *object, const char *name)
{
    json_t *value = json_object_get(object, name);
    assert_true(json_is_integer(value));
    return json_integer_value(value);
}

/* ---- setting up accounts with the store ---- */

static void caller_create(struct fixture *fixture, struct caller *caller, const char *email)
{
    int64_t now_ms = time_now_ms();
    struct account account;
    struct member member;
    struct api_key key;
    memset(&account, 0, sizeof(account));
    memset(&member, 0, sizeof(member));
    memset(&key, 0, sizeof(key));
    assert_true(id_account_new(now_ms, caller->account_id));
    assert_true(id_member_new(now_ms, caller->member_id));
    assert_true(id_api_key_new(caller->api_key));
    assert_true(id_api_secret_new(caller->api_secret));
    snprintf(caller->email, sizeof(caller->email), "%s", email);
    strcpy(account.account_id, caller->account_id);
    account.status = ACCOUNT_ACTIVE;
    account.verified = VERIFIED_PERSONAL;
    account.created_ms = now_ms;
    account.updated_ms = now_ms;
    assert_int_equal(store_account_create(fixture->store, &account), CASH_OK);
    strcpy(member.member_id, caller->member_id);
    strcpy(member.account_id, caller->account_id);
    strcpy(member.email, caller->email);
    strcpy(member.phone, "01012345678");
    member.role = ROLE_OWNER;
    member.status = MEMBER_ACTIVE;
    member.created_ms = now_ms;
    assert_int_equal(store_member_create(fixture->store, &member), CASH_OK);
    strcpy(key.api_key, caller->api_key);
    assert_true(crypto_seal(&fixture->keyring, caller->api_secret, strlen(caller->api_secret),
                            key.sealed_secret, sizeof(key.sealed_secret)));
    strcpy(key.member_id, caller->member_id);
    strcpy(key.account_id, caller->account_id);
    key.scopes = SCOPE_CASH_READ | SCOPE_CASH_WRITE;
    assert_int_equal(store_api_key_create(fixture->store, &key, now_ms), CASH_OK);
}

static void credit(struct fixture *fixture, const struct caller *caller, int64_t amount_won)
{
    char history_id[HISTORY_ID_LENGTH + 1];
    struct history_entry entry;
    int64_t now_ms = time_now_ms();
    assert_true(id_sortable_new(now_ms, history_id));
    assert_int_equal(store_balance_credit(fixture->store, caller->account_id, amount_won, "test",
                                          history_id, now_ms, &entry),
                     CASH_OK);
}

static int fixture_up(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    char url[PATH_BYTES_MAX + 16];
    char why[256] = "";
    bool created = false;
    const char *tmp = getenv("CASHD_TEST_TMP");
    assert_non_null(fixture);
    tmp = tmp == NULL ? "/tmp" : tmp;
    mkdir(tmp, 0700);
    snprintf(fixture->db_path, sizeof(fixture->db_path), "%s/api-handlers-%d.db", tmp,
             (int)getpid());
    snprintf(fixture->key_path, sizeof(fixture->key_path), "%s/api-handlers-%d.key", tmp,
             (int)getpid());
    unlink(fixture->db_path);
    unlink(fixture->key_path);
    assert_true(keyring_create_if_missing(fixture->key_path, &created, why, sizeof(why)));
    assert_true(keyring_load(fixture->key_path, &fixture->keyring, why, sizeof(why)));
    snprintf(url, sizeof(url), "sqlite:%s", fixture->db_path);
    if (store_open(url, &fixture->store, why, sizeof(why)) != CASH_OK) {
        fail_msg("store_open: %s", why);
    }
    int version = 0;
    assert_int_equal(store_migrate(fixture->store, &version), CASH_OK);
    config_defaults(&fixture->config);
    snprintf(fixture->config.mail, sizeof(fixture->config.mail), "console");
    /* These tests register a bank account through the API and withdraw at once; the cooling-off
     * that follows such a change is tested by tests/blackbox/test_abuse.py. */
    fixture->config.bank_cooling_off_hours = 0;
    fixture->api = api_new(&fixture->config, fixture->store, &fixture->keyring);
    assert_non_null(fixture->api);
    caller_create(fixture, &fixture->owner, "owner@example.com");
    caller_create(fixture, &fixture->other, "other@example.com");
    credit(fixture, &fixture->owner, 100000);
    *state = fixture;
    return 0;
}

static int fixture_down(void **state)
{
    struct fixture *fixture = *state;
    char path[PATH_BYTES_MAX + 8];
    api_free(fixture->api);
    store_close(fixture->store);
    keyring_wipe(&fixture->keyring);
    unlink(fixture->db_path);
    snprintf(path, sizeof(path), "%s-wal", fixture->db_path);
    unlink(path);
    snprintf(path, sizeof(path), "%s-shm", fixture->db_path);
    unlink(path);
    unlink(fixture->key_path);
    free(fixture);
    return 0;
}

/* ---- requests ---- */

struct call_options {
    const struct caller *caller; /* NULL: no Authorization header */
    const char *content_type;    /* NULL: application/json when there is a body */
    const char *verification_id;
    bool body_too_large;
    bool params_overflow;
};

/* Sends method path[?a=b&c=d] with body through api_handle; query is "a=b&c=d" or NULL. */
static struct answer send_request(struct fixture *fixture, const char *method, const char *path,
                                  const char *query, const char *body,
                                  const struct call_options *options)
{
    struct http_request request;
    struct http_response response;
    char header[HEADER_BYTES_MAX];
    char query_copy[PATH_BYTES_MAX] = "";
    char date[ISO8601_BYTES_MAX];
    char salt[17];
    struct answer answer;
    memset(&request, 0, sizeof(request));
    memset(&response, 0, sizeof(response));
    memset(&answer, 0, sizeof(answer));
    request.method = method;
    request.path = path;
    if (query != NULL) {
        snprintf(query_copy, sizeof(query_copy), "%s", query);
        for (char *save = NULL, *pair = strtok_r(query_copy, "&", &save); pair != NULL;
             pair = strtok_r(NULL, "&", &save)) {
            char *equals = strchr(pair, '=');
            if (equals != NULL) {
                *equals = '\0';
            }
            request.params[request.param_count].key = pair;
            request.params[request.param_count].value = equals == NULL ? "" : equals + 1;
            request.param_count++;
        }
    }
    if (options->caller != NULL) {
        iso8601_format(time_now_ms(), date);
        assert_true(crypto_random_text(ALNUM, 16, salt));
        assert_int_equal(auth_sign(HMAC_METHOD_SHA256, options->caller->api_key,
                                   options->caller->api_secret, date, salt, header, sizeof(header)),
                         CASH_OK);
        request.authorization = header;
    }
    if (body != NULL) {
        request.body = body;
        request.body_length = strlen(body);
        request.content_type =
            options->content_type != NULL ? options->content_type : "application/json";
    }
    request.verification_id = options->verification_id;
    request.body_too_large = options->body_too_large;
    request.params_overflow = options->params_overflow;
    api_handle(fixture->api, &request, &response);
    assert_non_null(response.body);
    assert_int_equal(strlen(response.body), response.body_length);
    answer.status = response.status;
    memcpy(answer.allow, response.allow, sizeof(answer.allow));
    memcpy(answer.retry_after, response.retry_after, sizeof(answer.retry_after));
    answer.text = response.body;
    answer.json = json_loads(response.body, 0, NULL);
    assert_non_null(answer.json);
    return answer;
}

static struct answer as_owner(struct fixture *fixture, const char *method, const char *path,
                              const char *query, const char *body)
{
    struct call_options options = {.caller = &fixture->owner};
    return send_request(fixture, method, path, query, body, &options);
}

static void expect_error(struct answer answer, unsigned status, const char *code,
                         const char *message_part)
{
    if (answer.status != status || strcmp(error_code(&answer) ? error_code(&answer) : "", code)) {
        fail_msg("expected %u %s, got %u %s", status, code, answer.status, answer.text);
    }
    if (message_part != NULL && strstr(error_message(&answer), message_part) == NULL) {
        fail_msg("message of %s lacks \"%s\"", answer.text, message_part);
    }
    answer_free(&answer);
}

/*
 * POST /cash/v1/verifications with stderr sent to a file, so that the console delivery line can
 * be read back: returns the verification id and the code.
 */
static void verification_request(struct fixture *fixture, const struct caller *caller,
                                 char id_out[VERIFICATION_ID_LENGTH + 1], char code_out[7])
{
    char log_path[PATH_BYTES_MAX + 8];
    char log_text[LOG_BYTES_MAX];
    char email[EMAIL_BYTES_MAX + 1];
    char expected_tail[EMAIL_BYTES_MAX + 64];
    struct call_options options = {.caller = caller};
    snprintf(log_path, sizeof(log_path), "%s.log", fixture->db_path);
    int log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int saved_stderr = dup(STDERR_FILENO);
    assert_true(log_fd >= 0 && saved_stderr >= 0);
    dup2(log_fd, STDERR_FILENO);
    struct answer answer = send_request(fixture, "POST", "/cash/v1/verifications", NULL,
                                        "{\"method\":\"EMAIL_OTP\"}", &options);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    ssize_t length = pread(log_fd, log_text, sizeof(log_text) - 1, 0);
    close(log_fd);
    unlink(log_path);
    assert_true(length > 0);
    log_text[length] = '\0';
    assert_int_equal(answer.status, 200);
    const char *line = strstr(log_text, " INFO verification ");
    assert_non_null(line);
    assert_int_equal(
        sscanf(line, " INFO verification %32s code %6s for %254s", id_out, code_out, email), 3);
    assert_string_equal(email, caller->email);
    snprintf(expected_tail, sizeof(expected_tail), "for %s (console delivery)\n", caller->email);
    assert_non_null(strstr(line, expected_tail));
    assert_string_equal(text_field(answer.json, "verificationId"), id_out);
    assert_string_equal(text_field(answer.json, "status"), "PENDING");
    assert_string_equal(text_field(answer.json, "method"), "EMAIL_OTP");
    assert_int_equal(integer_field(answer.json, "attemptsLeft"), 5);
    answer_free(&answer);
}

/* A confirmed verification of caller; its id goes to id_out. */
static void verified(struct fixture *fixture, const struct caller *caller,
                     char id_out[VERIFICATION_ID_LENGTH + 1])
{
    char code[7];
    char path[PATH_BYTES_MAX];
    char body[64];
    struct call_options options = {.caller = caller};
    verification_request(fixture, caller, id_out, code);
    snprintf(path, sizeof(path), "/cash/v1/verifications/%s/confirm", id_out);
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    struct answer answer = send_request(fixture, "POST", path, NULL, body, &options);
    assert_int_equal(answer.status, 200);
    assert_string_equal(text_field(answer.json, "status"), "CONFIRMED");
    answer_free(&answer);
}

static void register_bank(struct fixture *fixture)
{
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    verified(fixture, &fixture->owner, verification_id);
    struct answer answer = as_owner(fixture, "POST", "/cash/v1/bank/accounts", NULL,
                                    "{\"bankCode\":\"004\",\"accountNumber\":\"123-456-7890\","
                                    "\"holderName\":\"Hong\",\"authenticationCode\":\"x\"}");
    assert_int_equal(answer.status, 200);
    assert_string_equal(text_field(answer.json, "accountNumber"), "******7890");
    assert_null(strstr(answer.text, "1234567890"));
    answer_free(&answer);
}

/* ---- tests ---- */

static void test_pipeline_order(void **state)
{
    struct fixture *fixture = *state;
    struct call_options anonymous = {0};
    struct call_options owner = {.caller = &fixture->owner};
    /* Path and method come before authentication. */
    expect_error(send_request(fixture, "GET", "/cash/v1/nowhere", NULL, NULL, &anonymous), 404,
                 "NotFound", NULL);
    struct answer answer =
        send_request(fixture, "PUT", "/cash/v1/withdraw", NULL, NULL, &anonymous);
    assert_string_equal(answer.allow, "POST, GET");
    expect_error(answer, 405, "MethodNotAllowed", NULL);
    /* Then the body size and the parameter count. */
    struct call_options large = {.body_too_large = true};
    expect_error(send_request(fixture, "POST", "/cash/v1/withdraw", NULL, NULL, &large), 413,
                 "PayloadTooLarge", NULL);
    struct call_options overflow = {.params_overflow = true};
    expect_error(send_request(fixture, "GET", "/cash/v1/withdraw", NULL, NULL, &overflow), 400,
                 "ValidationError", "too many query parameters");
    /* Then authentication. */
    expect_error(send_request(fixture, "POST", "/cash/v1/withdraw", NULL, "{}", &anonymous), 401,
                 "Unauthorized", NULL);
    /* Then the content type and the JSON. */
    struct call_options text = {.caller = &fixture->owner, .content_type = "text/plain"};
    expect_error(send_request(fixture, "POST", "/cash/v1/withdraw", NULL, "{}", &text), 415,
                 "UnsupportedMediaType", NULL);
    expect_error(send_request(fixture, "POST", "/cash/v1/withdraw", NULL, "{\"amount\":", &owner),
                 400, "InvalidJSON", "not valid JSON");
    expect_error(send_request(fixture, "POST", "/cash/v1/withdraw", NULL,
                              "{\"a\":[[[[[[[[1]]]]]]]]}", &owner),
                 400, "InvalidJSON", "deeper");
    /* A route without a body refuses one; one without parameters refuses them. */
    expect_error(send_request(fixture, "GET", "/cash/v1/balance", NULL, "{}", &owner), 400,
                 "ValidationError", "no body");
    expect_error(send_request(fixture, "GET", "/cash/v1/balance", "x=1", NULL, &owner), 400,
                 "ValidationError", "unknown query parameter x");
}

static void test_balance_and_quote(void **state)
{
    struct fixture *fixture = *state;
    struct answer answer = as_owner(fixture, "GET", "/cash/v1/balance", NULL, NULL);
    char expected[160];
    assert_int_equal(answer.status, 200);
    snprintf(expected, sizeof(expected),
             "{\"accountId\":\"%s\",\"balance\":100000,\"point\":0,\"autoRecharge\":0,"
             "\"minimumCash\":0,\"rechargeTo\":0,\"rechargeTryCount\":0}",
             fixture->owner.account_id);
    assert_string_equal(answer.text, expected);
    answer_free(&answer);
    answer = as_owner(fixture, "GET", "/cash/v1/withdraw/quote", "amount=20000", NULL);
    assert_string_equal(answer.text, "{\"totalAmount\":20000,\"fee\":1500,\"amount\":18500}");
    answer_free(&answer);
    expect_error(as_owner(fixture, "GET", "/cash/v1/withdraw/quote", "amount=12.5", NULL), 400,
                 "ValidationError", "amount");
    expect_error(as_owner(fixture, "GET", "/cash/v1/withdraw/quote", "amount=1&amount=2", NULL),
                 400, "ValidationError", "repeated");
    expect_error(as_owner(fixture, "GET", "/cash/v1/withdraw/quote", "amount=999&x=1", NULL), 400,
                 "ValidationError", "unknown query parameter x");
    expect_error(as_owner(fixture, "GET", "/cash/v1/withdraw/quote", "amount=999", NULL), 400,
                 "ValidationError", "amount");
}

static void test_withdraw_needs_second_factor_and_bank(void **state)
{
    struct fixture *fixture = *state;
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    expect_error(as_owner(fixture, "POST", "/cash/v1/withdraw", NULL, "{\"amount\":20000}"), 403,
                 "SecondFactorRequired", NULL);
    verified(fixture, &fixture->owner, verification_id);
    expect_error(as_owner(fixture, "POST", "/cash/v1/withdraw", NULL, "{\"amount\":20000}"), 400,
                 "BankAccountNotRegistered", NULL);
    /* The body is checked before the business rules. */
    expect_error(as_owner(fixture, "POST", "/cash/v1/withdraw", NULL, "{\"amount\":\"20000\"}"),
                 400, "ValidationError", "amount must be an integer");
    expect_error(as_owner(fixture, "POST", "/cash/v1/withdraw", NULL, "{\"amount\":20000.0}"), 400,
                 "ValidationError", "amount must be an integer");
    expect_error(
        as_owner(fixture, "POST", "/cash/v1/withdraw", NULL, "{\"amount\":20000,\"memo\":\"x\"}"),
        400, "ValidationError", "unknown field memo");
    expect_error(as_owner(fixture, "POST", "/cash/v1/withdraw", NULL, "{}"), 400, "ValidationError",
                 "amount is required");
}

static void test_withdraw_cancel_and_list(void **state)
{
    struct fixture *fixture = *state;
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    char ids[3][WITHDRAW_ID_LENGTH + 1];
    char path[PATH_BYTES_MAX];
    char query[PATH_BYTES_MAX];
    register_bank(fixture);
    for (int i = 0; i < 3; i++) {
        verified(fixture, &fixture->owner, verification_id);
        struct call_options named = {.caller = &fixture->owner, .verification_id = verification_id};
        struct answer answer =
            send_request(fixture, "POST", "/cash/v1/withdraw", NULL, "{\"amount\":10000}", &named);
        assert_int_equal(answer.status, 200);
        assert_int_equal(json_object_size(answer.json), 17);
        assert_non_null(strstr(answer.text,
                               "{\"bankCode\":\"004\",\"accountNumber\":\"******7890\","
                               "\"holderName\":\"Hong\",\"status\":\"PENDING\""));
        assert_int_equal(integer_field(answer.json, "amount"), 9000);
        snprintf(ids[i], sizeof(ids[i]), "%s", text_field(answer.json, "withdrawId"));
        answer_free(&answer);
    }
    /* Newest first, two per page, nextKey names the first row of the next page. */
    struct answer page = as_owner(fixture, "GET", "/cash/v1/withdraw", "limit=2", NULL);
    assert_int_equal(page.status, 200);
    assert_int_equal(json_array_size(json_object_get(page.json, "data")), 2);
    assert_string_equal(
        text_field(json_array_get(json_object_get(page.json, "data"), 0), "withdrawId"), ids[2]);
    assert_string_equal(text_field(page.json, "nextKey"), ids[0]);
    snprintf(query, sizeof(query), "limit=2&startKey=%s", ids[0]);
    answer_free(&page);
    page = as_owner(fixture, "GET", "/cash/v1/withdraw", query, NULL);
    assert_int_equal(json_array_size(json_object_get(page.json, "data")), 1);
    assert_true(json_is_null(json_object_get(page.json, "nextKey")));
    answer_free(&page);
    expect_error(as_owner(fixture, "GET", "/cash/v1/withdraw", "sort=asc", NULL), 400,
                 "ValidationError", "sort");
    /* Cancel returns the whole totalAmount. */
    snprintf(path, sizeof(path), "/cash/v1/withdraw/%s/cancel", ids[1]);
    struct answer canceled = as_owner(fixture, "POST", path, NULL, NULL);
    assert_int_equal(canceled.status, 200);
    assert_string_equal(text_field(canceled.json, "status"), "CANCELED");
    answer_free(&canceled);
    expect_error(as_owner(fixture, "POST", path, NULL, NULL), 409, "InvalidStatus", NULL);
    struct answer balance = as_owner(fixture, "GET", "/cash/v1/balance", NULL, NULL);
    assert_int_equal(integer_field(balance.json, "balance"), 100000 - 2 * 10000);
    answer_free(&balance);
    struct answer history =
        as_owner(fixture, "GET", "/cash/v1/balance/history", "type=WITHDRAW_REFUND", NULL);
    assert_int_equal(json_array_size(json_object_get(history.json, "data")), 1);
    assert_string_equal(
        text_field(json_array_get(json_object_get(history.json, "data"), 0), "groupId"), ids[1]);
    answer_free(&history);
    /* Another account sees none of it. */
    snprintf(path, sizeof(path), "/cash/v1/withdraw/%s", ids[0]);
    struct call_options other = {.caller = &fixture->other};
    expect_error(send_request(fixture, "GET", path, NULL, NULL, &other), 404, "NotFound", NULL);
    struct answer mine = as_owner(fixture, "GET", path, NULL, NULL);
    assert_int_equal(mine.status, 200);
    answer_free(&mine);
    expect_error(as_owner(fixture, "GET", "/cash/v1/withdraw/1234", NULL, NULL), 404, "NotFound",
                 NULL);
}

static void test_verification_codes(void **state)
{
    struct fixture *fixture = *state;
    char id[VERIFICATION_ID_LENGTH + 1];
    char code[7];
    char path[PATH_BYTES_MAX];
    char wrong[64];
    verification_request(fixture, &fixture->owner, id, code);
    snprintf(path, sizeof(path), "/cash/v1/verifications/%s/confirm", id);
    snprintf(wrong, sizeof(wrong), "{\"code\":\"%06d\"}", (atoi(code) + 1) % 1000000);
    expect_error(as_owner(fixture, "POST", path, NULL, wrong), 400, "InvalidVerificationCode",
                 "4 attempts left");
    expect_error(as_owner(fixture, "POST", path, NULL, "{\"code\":123456}"), 400, "ValidationError",
                 "code must be a string of 6 digits");
    expect_error(as_owner(fixture, "POST", path, NULL, "{\"code\":\"12345\"}"), 400,
                 "ValidationError", "code");
    /* Another member cannot see or confirm it. */
    struct call_options other = {.caller = &fixture->other};
    expect_error(send_request(fixture, "POST", path, NULL, wrong, &other), 404, "NotFound", NULL);
    snprintf(path, sizeof(path), "/cash/v1/verifications/%s", id);
    expect_error(send_request(fixture, "GET", path, NULL, NULL, &other), 404, "NotFound", NULL);
    struct answer mine = as_owner(fixture, "GET", path, NULL, NULL);
    assert_int_equal(integer_field(mine.json, "attemptsLeft"), 4);
    answer_free(&mine);
    fixture->config.ars_url[0] = '\0'; /* no phone gateway: ARS is off */
    expect_error(as_owner(fixture, "POST", "/cash/v1/verifications", NULL, "{\"method\":\"ARS\"}"),
                 400, "ValidationError", "method ARS is not configured");
    expect_error(as_owner(fixture, "POST", "/cash/v1/verifications", NULL, "{\"method\":\"TOTP\"}"),
                 400, "ValidationError", "has no authenticator app enrolled");
    expect_error(as_owner(fixture, "POST", "/cash/v1/verifications", NULL, "{\"method\":\"SMS\"}"),
                 400, "ValidationError", "method");
}

static void test_mail_not_configured(void **state)
{
    struct fixture *fixture = *state;
    /* No SMTP server listens there: the delivery fails and says so (SPEC 5). */
    snprintf(fixture->config.mail, sizeof(fixture->config.mail), "smtp://127.0.0.1:1");
    struct answer answer =
        as_owner(fixture, "POST", "/cash/v1/verifications", NULL, "{\"method\":\"EMAIL_OTP\"}");
    assert_string_equal(answer.retry_after, "");
    expect_error(answer, 503, "MailDeliveryFailed", NULL);
}

static void test_bank_account(void **state)
{
    struct fixture *fixture = *state;
    char verification_id[VERIFICATION_ID_LENGTH + 1];
    expect_error(as_owner(fixture, "GET", "/cash/v1/bank/accounts", NULL, NULL), 404, "NotFound",
                 NULL);
    verified(fixture, &fixture->owner, verification_id);
    expect_error(as_owner(fixture, "POST", "/cash/v1/bank/accounts", NULL,
                          "{\"bankCode\":\"004\",\"accountNumber\":\"12\",\"holderName\":\"H\"}"),
                 400, "ValidationError", "accountNumber");
    expect_error(as_owner(fixture, "POST", "/cash/v1/bank/accounts", NULL,
                          "{\"bankCode\":\"004\",\"accountNumber\":\"123456\"}"),
                 400, "ValidationError", "holderName is required");
    expect_error(as_owner(fixture, "POST", "/cash/v1/bank/accounts", NULL,
                          "{\"bankCode\":\"004\",\"accountNumber\":\"123456\",\"holderName\":\"H\","
                          "\"branch\":\"x\"}"),
                 400, "ValidationError", "unknown field branch");
    /* Nothing registered: the delete does not spend the verification. */
    expect_error(as_owner(fixture, "DELETE", "/cash/v1/bank/accounts", NULL, NULL), 404, "NotFound",
                 NULL);
    register_bank(fixture); /* confirms one more: register and delete spend one each */
    struct answer deleted = as_owner(fixture, "DELETE", "/cash/v1/bank/accounts", NULL, NULL);
    assert_int_equal(deleted.status, 200);
    assert_string_equal(deleted.text, "{\"n\":1}");
    answer_free(&deleted);
    expect_error(as_owner(fixture, "GET", "/cash/v1/bank/accounts", NULL, NULL), 404, "NotFound",
                 NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_order, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_balance_and_quote, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_withdraw_needs_second_factor_and_bank, fixture_up,
                                        fixture_down),
        cmocka_unit_test_setup_teardown(test_withdraw_cancel_and_list, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_verification_codes, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_mail_not_configured, fixture_up, fixture_down),
        cmocka_unit_test_setup_teardown(test_bank_account, fixture_up, fixture_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
