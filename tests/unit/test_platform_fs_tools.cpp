// The platform's local-filesystem tools (lib/server/profiles/platform/fs_tools.hpp): paths resolved
// as the filesystem resolves them and confined to the project, and the second step that opens
// without following symlinks, so that a symlink swapped in after the check does not lead out.
#include "server/profiles/platform/fs_tools.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

using namespace ccbridge::detail::server::platform;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path root;
  Scratch()
  {
    std::string tmpl = (fs::temp_directory_path() / "ccb-fs-XXXXXX").string();
    root = fs::canonical(::mkdtemp(tmpl.data()));
    fs::create_directories(root / "proj" / "sub");
    fs::create_directories(root / "proj-x");
    std::ofstream(root / "proj" / "in.txt") << "inside";
    std::ofstream(root / "proj-x" / "secret") << "secret";
  }
  ~Scratch() { fs::remove_all(root); }
  std::string proj() const { return (root / "proj").string(); }
};

std::string resolved(const Scratch &s, const std::string &path, bool &outside)
{
  return resolve_confined(s.proj(), path, outside);
}

}  // namespace

TEST_CASE("platform fs tools: paths inside resolve to their place in the project")
{
  Scratch s;
  fs::create_symlink("in.txt", s.root / "proj" / "rel-link");
  fs::create_symlink(s.root / "proj" / "sub", s.root / "proj" / "abs-dir-link");
  fs::create_symlink("../in.txt", s.root / "proj" / "sub" / "up-link");
  bool outside = true;
  CHECK(resolved(s, "in.txt", outside) == "in.txt");
  CHECK_FALSE(outside);
  CHECK(resolved(s, "", outside) == "");
  CHECK(resolved(s, ".", outside) == "");
  CHECK(resolved(s, s.proj() + "/sub/../in.txt", outside) == "in.txt");
  CHECK(resolved(s, "rel-link", outside) == "in.txt");
  CHECK(resolved(s, "abs-dir-link/new", outside) == "sub/new");  // a missing last part, through a link
  CHECK(resolved(s, "sub/up-link", outside) == "in.txt");
  CHECK(resolved(s, "missing/../in.txt", outside) == "in.txt");
  CHECK_FALSE(outside);
}

TEST_CASE("platform fs tools: every way out is outside, existing or not")
{
  Scratch s;
  fs::create_symlink(s.root / "proj-x" / "secret", s.root / "proj" / "out-link");
  fs::create_symlink(s.root / "proj-x" / "nothing", s.root / "proj" / "dangling-out");
  fs::create_symlink("..", s.root / "proj" / "sub" / "parent");  // proj: inside
  fs::create_symlink("../..", s.root / "proj" / "sub" / "grandparent");
  fs::create_symlink("self", s.root / "proj" / "self");
  for (const std::string &p : std::initializer_list<std::string>{"../proj-x/secret", "..", "/", "/etc/passwd", "out-link", "dangling-out", "sub/grandparent",
                              "sub/grandparent/proj-x/secret", "self", "../proj-x", (s.root / "proj-x").string(),
                              "sub/../../proj-x/nothing", "/nonexistent/file"}) {
    bool outside = false;
    resolved(s, p, outside);
    CHECK_MESSAGE(outside, p);
  }
  bool outside = true;
  CHECK(resolved(s, "sub/parent/in.txt", outside) == "in.txt");
  CHECK_FALSE(outside);
}

TEST_CASE("platform fs tools: a symlink swapped in after the check is not followed")
{
  Scratch s;
  // The check saw "sub/file" (no symlink). Then "sub" becomes a symlink to the sibling and
  // "in.txt" a symlink to its secret: opening what was checked must fail, not read the secret.
  fs::remove_all(s.root / "proj" / "sub");
  fs::create_symlink(s.root / "proj-x", s.root / "proj" / "sub");
  fs::remove(s.root / "proj" / "in.txt");
  fs::create_symlink(s.root / "proj-x" / "secret", s.root / "proj" / "in.txt");
  for (const char *tool : {"read_file", "write_file", "list_files"}) {
    FsCall c;
    c.tool = tool;
    c.root = s.proj();
    c.content = "pwned";
    for (const char *rel : {"sub/secret", "in.txt", "sub"}) {
      c.path = rel;
      FsOutcome o = run_resolved(c, s.proj(), rel);
      CHECK_MESSAGE(o.error.status != 0, tool, " ", rel, " answered ", o.result);
      CHECK(o.result.find("secret") == std::string::npos);
    }
  }
  std::ifstream in(s.root / "proj-x" / "secret");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "secret");
}

TEST_CASE("platform fs tools: read, write and list in the project")
{
  Scratch s;
  FsCall c;
  c.root = s.proj();
  c.tool = "write_file";
  c.path = "sub/new.txt";
  c.content = "hello";
  FsOutcome w = run_fs_tool(c);
  REQUIRE(w.error.status == 0);
  CHECK(w.result == R"({"path":"sub/new.txt","bytesWritten":5})");
  c.tool = "read_file";
  CHECK(run_fs_tool(c).result == "\"hello\"");
  c.tool = "list_files";
  c.path = "sub";
  FsOutcome l = run_fs_tool(c);
  REQUIRE(l.error.status == 0);
  CHECK(l.result == R"({"path":"sub","entries":[{"name":"new.txt","path":"sub/new.txt","type":"file","size":5}],"truncated":false})");
  c.tool = "read_file";
  c.path = "sub";
  CHECK(run_fs_tool(c).error.status == 422);
  c.path = "nope";
  CHECK(run_fs_tool(c).error.status == 404);
  c.tool = "write_file";
  c.path = "no-dir/x";
  CHECK(run_fs_tool(c).error.status == 404);
  c.path = "../proj-x/secret";
  CHECK(run_fs_tool(c).error.status == 403);
}
