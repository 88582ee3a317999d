// The one spelling of a member status, for tables, logs and the journal.
#pragma once

#include "troupe/cluster.pb.h"

namespace troupe {

/// "up", "suspect", "down", "left", "joining" or "unknown".
const char* member_status_name(v1::MemberStatus s);

} // namespace troupe
