// Umbrella header: everything but typed.h (which pulls in msgpack-c).
#pragma once

#include "libshard/config.h"
#include "libshard/document.h"
#include "libshard/id.h"
#include "libshard/metrics.h"
#include "libshard/options.h"
#include "libshard/rebalance.h"
#include "libshard/status.h"
#include "libshard/store.h"
