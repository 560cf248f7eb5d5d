/*
 * router.c - the route table of the cashd API (docs/API.md). Order matters: the first route whose
 * pattern and method match wins, so /withdraw/quote comes before /withdraw/{id}.
 */
#include "api/api_internal.h"

#include <stdio.h>
#include <string.h>

#define API_ID_SEGMENT "{id}"

static const struct api_route api_routes[] = {
    {"POST", "/cash/v1/withdraw", AUTH_ACCESS_WRITE, API_BODY_JSON, API_PARAMS_NONE,
     api_withdraw_create},
    {"GET", "/cash/v1/withdraw", AUTH_ACCESS_READ, API_BODY_NONE, API_PARAMS_OWN,
     api_withdraw_list},
    {"GET", "/cash/v1/withdraw/quote", AUTH_ACCESS_READ, API_BODY_NONE, API_PARAMS_OWN,
     api_withdraw_quote},
    {"GET", "/cash/v1/withdraw/{id}", AUTH_ACCESS_READ, API_BODY_NONE, API_PARAMS_NONE,
     api_withdraw_get},
    {"POST", "/cash/v1/withdraw/{id}/cancel", AUTH_ACCESS_WRITE, API_BODY_NONE, API_PARAMS_NONE,
     api_withdraw_cancel},
    {"GET", "/cash/v1/balance", AUTH_ACCESS_READ, API_BODY_NONE, API_PARAMS_NONE, api_balance_get},
    {"GET", "/cash/v1/balance/history", AUTH_ACCESS_READ, API_BODY_NONE, API_PARAMS_OWN,
     api_balance_history},
    {"POST", "/cash/v1/bank/accounts", AUTH_ACCESS_WRITE, API_BODY_JSON, API_PARAMS_NONE,
     api_bank_register},
    {"GET", "/cash/v1/bank/accounts", AUTH_ACCESS_READ, API_BODY_NONE, API_PARAMS_NONE,
     api_bank_get},
    {"DELETE", "/cash/v1/bank/accounts", AUTH_ACCESS_WRITE, API_BODY_NONE, API_PARAMS_NONE,
     api_bank_delete},
    {"POST", "/cash/v1/verifications", AUTH_ACCESS_WRITE, API_BODY_JSON, API_PARAMS_NONE,
     api_verification_create},
    /* The phone gateway's signed report (docs/ars-gateway.md): no API key, its own signature. */
    {"POST", "/cash/v1/verifications/ars/callback", AUTH_ACCESS_GATEWAY, API_BODY_JSON,
     API_PARAMS_NONE, api_ars_callback},
    {"POST", "/cash/v1/verifications/{id}/confirm", AUTH_ACCESS_WRITE, API_BODY_JSON,
     API_PARAMS_NONE, api_verification_confirm},
    {"GET", "/cash/v1/verifications/{id}", AUTH_ACCESS_READ, API_BODY_NONE, API_PARAMS_NONE,
     api_verification_get},
};

#define API_ROUTE_COUNT (sizeof(api_routes) / sizeof(api_routes[0]))

/*
 * True if path matches pattern byte for byte, where "{id}" matches one non-empty segment;
 * *id_start and *id_length then borrow that segment from path.
 */
static bool api_pattern_match(const char *pattern, const char *path, const char **id_start,
                              size_t *id_length)
{
    const size_t marker_length = sizeof(API_ID_SEGMENT) - 1;
    while (*pattern != '\0' && *path != '\0') {
        if (strncmp(pattern, API_ID_SEGMENT, marker_length) == 0) {
            size_t segment = strcspn(path, "/");
            if (segment == 0) {
                return false;
            }
            *id_start = path;
            *id_length = segment;
            pattern += marker_length;
            path += segment;
            continue;
        }
        if (*pattern != *path) {
            return false;
        }
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

/* Appends method to the Allow list unless it is there already. */
static void api_allow_add(char *allow, size_t allow_size, const char *method)
{
    size_t used = strlen(allow);
    const char *found = strstr(allow, method);
    if (found != NULL) {
        return; /* the table's methods are distinct words: no method is a prefix of another */
    }
    snprintf(allow + used, allow_size - used, "%s%s", used == 0 ? "" : ", ", method);
}

cash_result api_route_find(const char *method, const char *path, struct api_match *out, char *allow,
                           size_t allow_size)
{
    bool path_known = false;
    allow[0] = '\0';
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < API_ROUTE_COUNT; i++) {
        const char *id_start = NULL;
        size_t id_length = 0;
        if (!api_pattern_match(api_routes[i].pattern, path, &id_start, &id_length)) {
            continue;
        }
        path_known = true;
        if (strcmp(api_routes[i].method, method) != 0) {
            api_allow_add(allow, allow_size, api_routes[i].method);
            continue;
        }
        out->route = &api_routes[i];
        if (id_start != NULL && id_length < sizeof(out->id)) {
            memcpy(out->id, id_start, id_length);
            out->id[id_length] = '\0';
        }
        allow[0] = '\0';
        return CASH_OK;
    }
    if (!path_known) {
        return CASH_NOT_FOUND;
    }
    return CASH_METHOD_NOT_ALLOWED;
}
