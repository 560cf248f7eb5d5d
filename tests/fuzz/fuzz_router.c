/*
 * fuzz_router.c - api_route_find on an arbitrary method and path (src/api/router.c).
 * Input: the method, one space, the path (without a space, all of it is the path and the method
 * is "GET"). NUL bytes end the strings early, as in the C strings the HTTP layer passes.
 *
 * Properties: a match names a route of exactly this method, and its {id} is "" or one segment
 * without '/' that fits; MethodNotAllowed lists in Allow only other methods; NotFound and a match
 * leave Allow empty.
 */
#include "fuzz_common.h"

#include "api/api_internal.h"

static void fuzz_check_match(const char *method, const char *path, const struct api_match *match,
                             const char *allow)
{
    FUZZ_CHECK(match->route != NULL);
    FUZZ_CHECK(strcmp(match->route->method, method) == 0);
    FUZZ_CHECK(match->route->handler != NULL);
    FUZZ_CHECK(allow[0] == '\0');
    size_t id_length = strnlen(match->id, sizeof(match->id));
    FUZZ_CHECK(id_length < sizeof(match->id));
    FUZZ_CHECK(strchr(match->id, '/') == NULL);
    if (id_length > 0) {
        FUZZ_CHECK(strstr(match->route->pattern, "{id}") != NULL);
        FUZZ_CHECK(strstr(path, match->id) != NULL);
    }
    if (strstr(match->route->pattern, "{id}") == NULL) {
        FUZZ_CHECK(strcmp(match->route->pattern, path) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy_string(data, size);
    const char *method = "GET";
    const char *path = text;
    char *space = memchr(text, ' ', size);
    if (space != NULL) {
        *space = '\0';
        method = text;
        path = space + 1;
    }
    struct api_match match;
    char allow[HTTP_EXTRA_HEADER_BYTES_MAX];
    cash_result result = api_route_find(method, path, &match, allow, sizeof(allow));
    FUZZ_CHECK(strnlen(allow, sizeof(allow)) < sizeof(allow));
    if (result == CASH_OK) {
        fuzz_check_match(method, path, &match, allow);
    } else if (result == CASH_METHOD_NOT_ALLOWED) {
        FUZZ_CHECK(match.route == NULL);
        FUZZ_CHECK(allow[0] != '\0');
        /* Allow is a list of the table's methods; the method asked for is not one of them. */
        const char *at = allow;
        while (*at != '\0') {
            size_t word = strcspn(at, ",");
            FUZZ_CHECK(strlen(method) != word || strncmp(at, method, word) != 0);
            at += word;
            at += strspn(at, ", ");
        }
    } else {
        FUZZ_CHECK(result == CASH_NOT_FOUND);
        FUZZ_CHECK(match.route == NULL);
        FUZZ_CHECK(allow[0] == '\0');
    }
    free(text);
    return 0;
}
