// `ccbridge users ...`: the agent platform's users, in the same database as `ccbridge serve --db`.
#include "users_main.hpp"

#include "server/profiles/platform/permissions.hpp"
#include "server/profiles/platform/platform.hpp"

#include <ccbridge/error.hpp>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace ccbridge::detail::server::platform;

const char *const kUsage =
    "usage: ccbridge users add EMAIL --password-stdin [--name N] [--permissions a,b|all] [--db FILE]\n"
    "       ccbridge users list [--db FILE]\n"
    "       ccbridge users disable EMAIL [--db FILE]   (enable EMAIL undoes it)\n"
    "       ccbridge users set-permissions EMAIL a,b|all [--db FILE]\n"
    "       ccbridge users passwd EMAIL --password-stdin [--db FILE]\n"
    "The database is ccbridge.db in the current directory unless --db names one (as `ccbridge serve --db`).\n"
    "Passwords are read from standard input (one line), never from the command line.\n";

struct Args {
  std::string verb, email, name, permissions, db = "ccbridge.db";
  bool password_stdin = false, has_permissions = false;
  int cost = 15;
  std::vector<std::string> rest;
};

[[noreturn]] void usage(const std::string &why)
{
  std::cerr << "ccbridge users: " << why << "\n" << kUsage;
  std::exit(2);
}

int cost_of(const std::string &text)
{
  char *end = nullptr;
  long n = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || n < 10 || n > 20) usage("--password-cost takes a whole number from 10 to 20");
  return static_cast<int>(n);
}

Args parse(int argc, char **argv)
{
  Args a;
  if (argc < 3) usage("which command?");
  a.verb = argv[2];
  for (int i = 3; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(s + " needs a value");
      return argv[++i];
    };
    if (s == "--db") a.db = value();
    else if (s == "--name") a.name = value();
    else if (s == "--permissions") a.permissions = value(), a.has_permissions = true;
    else if (s == "--password-stdin") a.password_stdin = true;
    else if (s == "--password-cost") a.cost = cost_of(value());
    else if (s.rfind("--", 0) == 0) usage("unknown option " + s);
    else a.rest.push_back(s);
  }
  return a;
}

std::vector<std::string> permissions_or_exit(const std::string &text)
{
  PermissionList l = parse_permissions(text);
  if (!l.ok()) usage(l.error);
  return l.permissions;
}

UserRow existing(Store &store, const std::string &email)
{
  std::string lower = email;
  for (auto &c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto u = store.user_by_email(lower);
  if (!u) {
    std::cerr << "ccbridge users: no user " << email << "\n";
    std::exit(1);
  }
  return *u;
}

std::string read_password(const Args &a)
{
  if (!a.password_stdin) usage(a.verb + " needs --password-stdin (the password is read from standard input)");
  std::string password;
  std::getline(std::cin, password);
  if (password.size() < 8) usage("the password must have at least 8 characters");
  return password;
}

int add(Store &store, const Args &a)
{
  if (a.rest.size() != 1 || a.rest[0].find('@') == std::string::npos) usage("add takes one EMAIL");
  std::string password = read_password(a);
  UserRow u = make_user(a.rest[0], password, a.name, permissions_or_exit(a.has_permissions ? a.permissions : ""), a.cost);
  store.add_user(u);
  std::cout << u.id << "\n";
  return 0;
}

int list(Store &store)
{
  for (const auto &u : store.users()) {
    std::string perms;
    for (const auto &p : u.permissions) perms += (perms.empty() ? "" : ",") + p;
    std::cout << u.id << "\t" << u.email << "\t" << u.name << "\t" << (u.disabled ? "disabled" : "active") << "\t"
              << perms << "\n";
  }
  return 0;
}

}  // namespace

int run_users(int argc, char **argv)
{
  Args a = parse(argc, argv);
  try {
    auto store = open_sqlite_store(a.db);
    if (a.verb == "add") return add(*store, a);
    if (a.verb == "list") return list(*store);
    if ((a.verb == "disable" || a.verb == "enable") && a.rest.size() == 1) {
      UserRow u = existing(*store, a.rest[0]);
      u.disabled = a.verb == "disable";
      store->update_user(u);
      return 0;
    }
    if (a.verb == "set-permissions" && a.rest.size() == 2) {
      UserRow u = existing(*store, a.rest[0]);
      u.permissions = permissions_or_exit(a.rest[1]);
      store->update_user(u);
      return 0;
    }
    if (a.verb == "passwd" && a.rest.size() == 1) {
      UserRow u = existing(*store, a.rest[0]);
      u.password_hash = make_user(u.email, read_password(a), u.name, {}, a.cost).password_hash;
      store->update_user(u);
      return 0;
    }
    usage("unknown command or wrong arguments: " + a.verb);
  } catch (const ccbridge::Error &e) {
    std::cerr << "ccbridge users: " << e.what() << "\n";
    return 1;
  }
}
