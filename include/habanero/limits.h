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

// Extension runtime (per extension unless noted).
inline constexpr uint32_t kDeadlineMs = 1'000;              // wall time per request
inline constexpr uint32_t kEpochTickMs = 5;                 // engine-wide epoch period
inline constexpr uint64_t kMemoryBytes = 64ull << 20;       // linear memory
inline constexpr uint32_t kTableElements = 10'000;
inline constexpr size_t kMaxWasmStack = 512 * 1024;
inline constexpr uint32_t kPoolTotalInstances = 256;        // pooling allocator slots (engine-wide)
inline constexpr size_t kMaxResponseBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxResponseHeaders = 64;
inline constexpr size_t kMaxLogLineBytes = 4096;

// Key-value store as seen by extensions.
inline constexpr size_t kMaxKeyBytes = 512;
inline constexpr size_t kMaxValueBytes = 256 * 1024;
inline constexpr size_t kMaxRandomBytes = 64 * 1024;

}  // namespace habanero::limits
