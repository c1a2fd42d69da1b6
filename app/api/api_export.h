/* GET /api/v1/campaigns/{code}/export (api_export.c, app/doc/api-export.md). */
#pragma once

#include "api_int.h"

/* 1 when the request is for that path (*ret holds the result: the download, an error, or 405
 * for another method), 0 when not. */
int export_route(struct ctx *c, enum MHD_Result *ret);
