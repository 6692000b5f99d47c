// SPDX-License-Identifier: MIT
/*
 * GET /api/v1/openapi.json: the OpenAPI 3.1 document of this API, docs/openapi.json built
 * into the binary (src/admin/embed.py), so what is served and what is documented are one
 * file. No token: it says what the API is, nothing of the site.
 */
#include "admin/api.h"

extern const char admin_openapi_json[];
extern const size_t admin_openapi_json_len;

static void get_openapi(struct admin_request *r)
{
	admin_reply(r, 200, "application/json", admin_openapi_json, admin_openapi_json_len);
}

const struct admin_route admin_routes_openapi[] = {
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/openapi.json", ADMIN_OPEN, get_openapi },
	{ 0, NULL, 0, NULL },
};
