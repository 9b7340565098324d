#include "store/postgres/change_watcher.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "habanero/strings.h"

namespace habanero::store {

ChangeWatcher::ChangeWatcher(const PostgresOptions& options, std::vector<std::string> namespaces,
                             std::function<void(const std::string&)> on_change, uint32_t poll_ms)
    : options_(options),
      display_url_(redactUrl(options.url)),
      namespaces_(std::move(namespaces)),
      on_change_(std::move(on_change)),
      poll_ms_(poll_ms == 0 ? kDefaultPollMs : poll_ms) {}

ChangeWatcher::~ChangeWatcher() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

absl::StatusOr<std::unique_ptr<ChangeWatcher>> ChangeWatcher::start(
    const PostgresOptions& options, std::vector<std::string> namespaces,
    std::function<void(const std::string&)> on_change, uint32_t poll_ms) {
  std::unique_ptr<ChangeWatcher> w(
      new ChangeWatcher(options, std::move(namespaces), std::move(on_change), poll_ms));
  w->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->wake_fd_ < 0) return absl::InternalError("change watcher: eventfd failed");
  RETURN_IF_ERROR(w->connectAndListen());
  RETURN_IF_ERROR(w->check(/*baseline=*/true));
  w->thread_ = std::thread([raw = w.get()] { raw->run(); });
  return w;
}

absl::Status ChangeWatcher::connectAndListen() {
  conn_.reset();
  PostgresOptions o = options_;
  o.pool_size = 1;
  o.purge_interval_ms = 0;
  o.migrate = false;
  // A one-connection storage would do, but LISTEN needs the raw connection.
  const std::string timeout =
      std::to_string(std::max<uint32_t>(2, (options_.connect_timeout_ms + 999) / 1000));
  std::string password;
  if (!options_.password_file.empty()) {
    FILE* f = std::fopen(options_.password_file.c_str(), "r");
    if (f) {
      char buf[512];
      size_t n = std::fread(buf, 1, sizeof buf, f);
      std::fclose(f);
      password.assign(buf, n);
      while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
        password.pop_back();
      }
    }
  }
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values = {options_.url.c_str(), timeout.c_str(), "habanero-watcher"};
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PostgresStorage::ConnHandle conn(PQconnectdbParams(keys.data(), values.data(), 1));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = conn ? PQerrorMessage(conn.get()) : "out of memory";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return absl::UnavailableError(
        strCat("postgres ", display_url_, ": change watcher: connect: ", why));
  }
  PostgresStorage::ResultHandle r(PQexec(conn.get(), "LISTEN habanero_changes"));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    return absl::UnavailableError(strCat("postgres ", display_url_, ": LISTEN: ",
                                         PQresultErrorMessage(r.get())));
  }
  conn_ = std::move(conn);
  return absl::OkStatus();
}

absl::Status ChangeWatcher::check(bool baseline) {
  PostgresStorage::ResultHandle r(
      PQexec(conn_.get(), "SELECT convert_from(ns, 'UTF8'), generation FROM generations"));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    return absl::UnavailableError(strCat("postgres ", display_url_, ": generations: ",
                                         PQresultErrorMessage(r.get())));
  }
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::string ns = PQgetvalue(r.get(), i, 0);
    int64_t generation = std::strtoll(PQgetvalue(r.get(), i, 1), nullptr, 10);
    if (std::find(namespaces_.begin(), namespaces_.end(), ns) == namespaces_.end()) continue;
    auto [it, inserted] = seen_.try_emplace(ns, generation);
    if (!inserted && it->second == generation) continue;
    it->second = generation;
    if (!baseline) on_change_(ns);
  }
  if (baseline) {
    // Namespaces never written yet count as generation 0: their first write is a change.
    for (const std::string& ns : namespaces_) seen_.try_emplace(ns, 0);
  }
  return absl::OkStatus();
}

void ChangeWatcher::run() {
  bool reported = false;
  while (!stopping_) {
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
      absl::Status s = connectAndListen();
      if (!s.ok()) {
        if (!reported) spdlog::warn("store: {} (retrying)", std::string(s.message()));
        reported = true;
        pollfd wake{wake_fd_, POLLIN, 0};
        ::poll(&wake, 1, static_cast<int>(poll_ms_));
        continue;
      }
      if (reported) spdlog::info("store: change watcher reconnected to {}", display_url_);
      reported = false;
    }
    // A change made while disconnected or unnoticed shows in the generations.
    if (absl::Status s = check(/*baseline=*/false); !s.ok()) {
      conn_.reset();
      continue;
    }
    pollfd fds[2] = {{PQsocket(conn_.get()), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int ready = ::poll(fds, 2, static_cast<int>(poll_ms_));
    if (ready > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP))) {
      if (PQconsumeInput(conn_.get()) == 0) {
        conn_.reset();
        continue;
      }
      while (PGnotify* n = PQnotifies(conn_.get())) PQfreemem(n);
    }
  }
}

}  // namespace habanero::store
