// Private to agent/zfs: the helpers that the files of the ZFS adapter (zfs.cc, zfs_snapshots.cc,
// zfs_datasets.cc, zfs_stream.cc) share. zfs.cc defines them. Nothing outside agent/zfs
// includes this header.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/subprocess.h"

namespace zrep::zfs_internal {

// A duration as text for a message, e.g. "60.0 s".
std::string seconds_text(std::chrono::milliseconds ms);

// A failed zfs command as an error: the code from zfs's words, the words themselves, and for
// the one failure users cause by hand, what to do about it.
Error failure(const ProcessOutput& out, std::string_view what);

// A program that could not be started: a kNotFound gets "(is ZFS installed?)" appended.
Error spawn_failure(const Error& e);

}  // namespace zrep::zfs_internal
