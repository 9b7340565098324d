// Every limit the host enforces, as named defaults. Configuration overrides
// them (see docs/habanero.example.toml); code reads the configured value, never
// a literal.
#pragma once

#include <cstddef>
#include <cstdint>

namespace habanero::limits {

// HTTP front.
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;        // request line + headers
inline constexpr size_t kMaxBodyBytes = 1024 * 1024;        // request body
inline constexpr uint32_t kReadTimeoutMs = 10'000;          // slow-client cut-off per request
inline constexpr uint32_t kIdleTimeoutMs = 60'000;          // keep-alive idle connection
inline constexpr uint32_t kShutdownGraceMs = 10'000;        // SIGTERM: finish in-flight requests
// The dispatch queue (src/http/dispatch_queue.h): requests leave the io threads
// for a bounded pool; past the queue's length or wait, 503 + Retry-After.
inline constexpr uint32_t kDispatchThreads = 32;            // extension/request threads
inline constexpr size_t kMaxQueuedRequests = 1024;          // waiting for a dispatch thread
inline constexpr uint32_t kQueueTimeoutMs = 2'000;          // longest wait for a thread
inline constexpr uint32_t kRetryAfterSeconds = 1;           // on 503s of back-pressure

// Extension runtime (per extension unless noted).
inline constexpr uint32_t kDeadlineMs = 1'000;              // wall time per request
inline constexpr uint32_t kEpochTickMs = 5;                 // engine-wide epoch period
inline constexpr uint64_t kMemoryBytes = 64ull << 20;       // linear memory
inline constexpr uint32_t kTableElements = 10'000;
inline constexpr size_t kMaxWasmStack = 512 * 1024;
inline constexpr uint32_t kPoolTotalInstances = 256;        // pooling allocator slots (engine-wide)
// Per pool slot, memory kept resident between requests (reset by memset, not
// madvise): saves a page fault per touched page and a madvise per request.
// Costs at most kPoolTotalInstances x this in RSS (only slots ever used).
inline constexpr size_t kKeepResidentMemoryBytes = 1 << 20;
inline constexpr size_t kKeepResidentTableBytes = 4096;
// Decommit every freed slot at once (Wasmtime's default of 1): batching saves a
// syscall but lets memory a hostile guest touched linger in RSS until a batch fills.
inline constexpr size_t kDecommitBatchSize = 1;
inline constexpr size_t kMaxResponseBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxResponseHeaders = 64;
inline constexpr size_t kMaxLogLineBytes = 4096;

// Key-value store as seen by extensions.
inline constexpr size_t kMaxKeyBytes = 512;
inline constexpr size_t kMaxValueBytes = 256 * 1024;
inline constexpr size_t kMaxRandomBytes = 64 * 1024;

// Browser sessions and login attempts (design 0001; src/auth/sessions.h). Not yet
// configuration keys.
inline constexpr int64_t kSessionTtlMs = 12LL * 3600 * 1000;     // absolute, from login
inline constexpr int64_t kLoginAttemptTtlMs = 10LL * 60 * 1000;  // /authorize -> login done
inline constexpr size_t kMaxReturnToBytes = 4096;                // session_require_login
inline constexpr size_t kMaxLoginHintBytes = 512;
inline constexpr size_t kMaxAmrValues = 16;                      // login_complete
inline constexpr size_t kMaxAmrValueBytes = 64;

// Host records (src/auth/).
inline constexpr size_t kMaxPasswordBytes = 1024;      // longer never verifies
inline constexpr size_t kMaxClientSecretBytes = 1024;
inline constexpr size_t kMaxListRecords = 1'000'000;   // CLI listings

}  // namespace habanero::limits
