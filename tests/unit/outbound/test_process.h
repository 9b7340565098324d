// Helpers for the outbound tests: real server processes (Python scripts next
// to the tests), temporary directories and a self-signed certificate.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace habanero::outbound::testing {

// A child process with a pipe on its stdin and stdout. The scripts exit when
// their stdin closes, so a crashed test leaves nothing behind; the destructor
// also sends SIGTERM and reaps the child.
class TestProcess {
 public:
  // nullptr (with `error` set) when the process cannot be started.
  static std::unique_ptr<TestProcess> start(const std::vector<std::string>& argv,
                                            std::string* error,
                                            bool quiet = false);  // quiet: stderr to /dev/null
  ~TestProcess();

  // The next line of stdout without its newline; nullopt on EOF or timeout.
  std::optional<std::string> readLine(int timeout_ms);
  // Reads "PORT <n>" (what our scripts print once listening); 0 on failure.
  int readPort(int timeout_ms = 20'000);
  // Closes stdin, waits for the exit and returns the exit status (-1 if it
  // did not exit normally).
  int waitExit();

 private:
  TestProcess() = default;
  pid_t pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
};

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The first interpreter among python3 on PATH and /usr/bin/python3 that can
// import `module` ("" = any); "" if none can.
std::string findPython(const std::string& module = "");

// Creates cert.pem/key.pem (CN=localhost, SAN DNS:localhost, IP:127.0.0.1)
// in `dir` with the openssl command; false on failure.
bool makeSelfSignedCert(const std::string& dir);

// A TCP port on 127.0.0.1 free at the time of the call.
int freePort();

// Polls until something accepts on host:port, up to timeout_ms.
bool waitForPort(const std::string& host, int port, int timeout_ms);

// Reads a whole file ("" if missing).
std::string readFile(const std::string& path);

// Runs argv to completion and returns its stdout; nullopt if it failed.
std::optional<std::string> runCapture(const std::vector<std::string>& argv);

// The directory with the helper scripts.
std::string scriptDir();

}  // namespace habanero::outbound::testing
