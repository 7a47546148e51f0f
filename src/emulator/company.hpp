#pragma once
// The seed company: users and departments of the emulated portal (CONTRACT §12.3). Fixed ids the SLA policy
// relies on: admin 1, head of IT 2, line-1 dispatcher 11, line-1 specialists 12–14, line-2 dispatcher 21, line-2
// specialists 22–24, 1C specialist 25; other employees 100+ in ordinary departments (about 150 users in all).
// tests/data/emulator/company.json holds the same directory as JSON (`b24emu --print-company` writes it).

#include <boost/json.hpp>
#include <map>

#include "core/error.hpp"
#include "emulator/model.hpp"

namespace dispatch::emulator {

struct Company {
    std::map<std::int64_t, User> users;
    std::map<std::int64_t, Department> departments;
};

Company DefaultCompany();
boost::json::value CompanyToJson(const Company& company);
// {"departments":[{id,name,sort,parent,head}], "users":[{id,name,last_name,email,work_position,time_zone,
// departments,active,admin}]}; fails (CoreErrc::kInvalid) naming the first bad entry.
Result<Company> CompanyFromJson(const boost::json::value& v);

}  // namespace dispatch::emulator
