// Agent platform: the built-in `local-filesystem` tool server (read_file, write_file, list_files),
// confined to a session's projectPath.
//
// Confinement is decided in two steps. First the path is resolved as the filesystem will resolve
// it (every symlink followed, a dangling last component too, `..` after a symlink against its
// target) and compared component by component with the project's real path: outside is 403,
// whether or not it exists. Then the resolved path, which has no symlinks left, is opened one
// component at a time from a descriptor of the project with O_NOFOLLOW: a component swapped for
// a symlink after the check fails to open (ELOOP/ENOTDIR) instead of leading out.
//
// Thread safety: pure functions of their arguments; run them off the server thread (they do disk
// I/O of up to the size limits below).
#pragma once

#include "server/profiles/platform/api.hpp"

#include <cstddef>
#include <string>

namespace ccbridge::detail::server::platform {

/// One call of a local-filesystem tool, with its parameters already type-checked.
struct FsCall {
  std::string tool;     ///< read_file, write_file, list_files
  std::string root;     ///< the session's projectPath
  std::string path;     ///< relative to root, or absolute inside it
  std::string content;  ///< write_file: the bytes to write (decoded)
  bool base64 = false;  ///< read_file: answer the bytes base64-encoded
  bool recursive = false;
};

/// The outcome: error.status 0 and result (JSON text), or the error.
struct FsOutcome {
  ApiError error{0, "", "", ""};
  std::string result;
};

constexpr std::size_t kFsMaxReadBytes = 8 * 1024 * 1024;
constexpr std::size_t kFsMaxListEntries = 10000;

/// Resolves `path` against `root_real` (a real path) as the filesystem would. Returns the path
/// relative to root_real ("" for the root itself) with no symlink left, or sets `outside` when it
/// leads out of root_real. Throws nothing; a symlink loop counts as outside.
std::string resolve_confined(const std::string &root_real, const std::string &path, bool &outside);

/// Runs the call.
FsOutcome run_fs_tool(const FsCall &call);
/// The second step alone, on a path resolve_confined returned (exposed for tests, which stand for a
/// symlink swapped in after the check by passing a path that has one).
FsOutcome run_resolved(const FsCall &call, const std::string &root_real, const std::string &rel);

}  // namespace ccbridge::detail::server::platform
