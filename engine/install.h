/* SPDX-License-Identifier: MIT */
/*
 * install - the runs behind spoke_install() and spoke_uninstall()
 * (engine/api_install.c holds the public functions). Same contract as
 * those: the plan is read, the report returned when asked for.
 */
#ifndef SPOKE_ENGINE_INSTALL_H
#define SPOKE_ENGINE_INSTALL_H

#include "spoke.h"

int install_run(spoke_ctx *ctx, spoke_plan *plan, spoke_report **report);
int uninstall_run(spoke_ctx *ctx, spoke_plan *plan, spoke_report **report);

#endif
