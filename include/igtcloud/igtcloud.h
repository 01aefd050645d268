#ifndef IGTCLOUD_H
#define IGTCLOUD_H

/**
 * @file igtcloud/igtcloud.h
 * @brief Umbrella header: include this to use libigtcloud.
 */

#include "igtcloud/common.h"
#include "igtcloud/error.h"
#include "igtcloud/global.h"
#include "igtcloud/transfer.h"
#include "igtcloud/session.h"
#include "igtcloud/catalog.h"
#include "igtcloud/download.h"
#include "igtcloud/csv.h"
#include "igtcloud/upload.h"
#include "igtcloud/upgrade.h"

#endif
