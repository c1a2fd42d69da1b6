/* Internal to the simulated printers (sim.c, sim_zpl.c): the paper they print on. */
#pragma once

#include "fw_print.h"

/* Grows page (stride set, rows zeroed) so that it holds at least need rows, doubling from 256
 * and never past max. FW_OK, or FW_ENOMEM. The caller checks need <= max first. */
int fw_paper_reserve(struct fw_bitmap *page, int need, int max);
