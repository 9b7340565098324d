// Tells this process when any process changed a namespace it caches (the
// client registrations, the signing keys) in the shared PostgreSQL store.
//
// Every write to a watched namespace bumps its row in the table `generations`
// and sends NOTIFY habanero_changes in the writing transaction (a trigger,
// migration 2), whoever wrote it: a server, the CLI, the admin API of another
// process. The watcher LISTENs on its own connection and, on a notification or
// every poll_ms at the latest (the fallback when a notification is missed or
// the connection was lost), compares the generations with the last ones seen
// and calls on_change(ns) for each namespace that moved.
//
//   auto watcher = ChangeWatcher::start(pg_options, {"_host/clients"},
//                                       [&](const std::string& ns) { clients.reload(); });
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "habanero/status.h"
#include "store/postgres/postgres_storage.h"

namespace habanero::store {

class ChangeWatcher {
 public:
  static constexpr uint32_t kDefaultPollMs = 500;

  // Reads the current generations (the baseline: no call for them), then
  // watches on a thread of its own. on_change runs on that thread, one call at
  // a time. Errors as PostgresStorage::open for the first connection.
  static absl::StatusOr<std::unique_ptr<ChangeWatcher>> start(
      const PostgresOptions& options, std::vector<std::string> namespaces,
      std::function<void(const std::string& ns)> on_change, uint32_t poll_ms = kDefaultPollMs);

  ~ChangeWatcher();  // stops and joins the thread
  ChangeWatcher(const ChangeWatcher&) = delete;
  ChangeWatcher& operator=(const ChangeWatcher&) = delete;

 private:
  ChangeWatcher(const PostgresOptions& options, std::vector<std::string> namespaces,
                std::function<void(const std::string&)> on_change, uint32_t poll_ms);
  absl::Status connectAndListen();
  // The generations now; calls on_change for those that moved (unless `baseline`).
  absl::Status check(bool baseline);
  void run();

  const PostgresOptions options_;
  const std::string display_url_;
  const std::vector<std::string> namespaces_;
  const std::function<void(const std::string&)> on_change_;
  const uint32_t poll_ms_;
  PostgresStorage::ConnHandle conn_;  // used by the thread only (after start)
  std::map<std::string, int64_t> seen_;
  int wake_fd_ = -1;  // eventfd: the destructor wakes the thread
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace habanero::store
