// member_table: the mesh's view of the members, and what the control
// plane's committed records may change in it (runtime/members.hpp).
#include "runtime/members.hpp"
#include "tests/support/caf_test.hpp"

#include <doctest/doctest.h>

using namespace troupe;

namespace {

struct members_fixture : test::caf_fixture {
  member_table table;

  member_entry up(const std::string& id, uint64_t incarnation) {
    member_entry e;
    e.info.set_node_id(id);
    e.info.set_incarnation(incarnation);
    e.status = v1::MEMBER_STATUS_UP;
    e.gateway = sys.spawn([]() -> caf::behavior { return {[](int) {}}; });
    return e;
  }
};

} // namespace

TEST_CASE_FIXTURE(members_fixture, "members: a committed DOWN applies to its own incarnation") {
  table.upsert(up("n2", 2));
  CHECK(table.set_committed_status("n2", 2, v1::MEMBER_STATUS_DOWN, 1, "lease expired"));
  CHECK_EQ(table.find("n2")->status, v1::MEMBER_STATUS_DOWN);
}

// A node killed and restarted within a second joins the mesh under its new
// incarnation before the controller commits its rejoin; the DOWN record of
// the process it replaced must not take it out of members.up() (its Raft
// member would never hear from the leader again).
TEST_CASE_FIXTURE(members_fixture, "members: a committed record of an older incarnation changes nothing") {
  table.upsert(up("n2", 3));
  CHECK_FALSE(table.set_committed_status("n2", 2, v1::MEMBER_STATUS_DOWN, 1, "lease expired"));
  CHECK_EQ(table.find("n2")->status, v1::MEMBER_STATUS_UP);
  CHECK_EQ(table.up().size(), 1u);
}
