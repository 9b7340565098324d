// The one checked accessor for guest memory. Every pointer/length pair a guest
// passes to a host call goes through slice(); nothing else in the host reads
// or writes guest memory.
//
// A GuestMemory is a view of one instance's linear memory as it is at the
// start of a host call. It is valid only for the duration of that call: the
// guest cannot run (and so cannot grow or move its memory) while the host call
// runs, and the host never grows guest memory itself.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace habanero::runtime {

class GuestMemory {
 public:
  GuestMemory() = default;
  GuestMemory(uint8_t* base, size_t size) : base_(base), size_(size) {}

  // The bytes [ptr, ptr + len), or nullopt if any of them lies outside the
  // memory (including when ptr + len overflows 32 bits). A zero-length slice
  // at ptr <= size is valid.
  std::optional<std::span<uint8_t>> slice(uint32_t ptr, uint32_t len) const {
    if (base_ == nullptr) return std::nullopt;
    if (static_cast<uint64_t>(ptr) + static_cast<uint64_t>(len) > size_) return std::nullopt;
    return std::span<uint8_t>(base_ + ptr, len);
  }

  std::optional<std::string_view> view(uint32_t ptr, uint32_t len) const {
    auto s = slice(ptr, len);
    if (!s) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(s->data()), s->size());
  }

  // Copies `bytes` to [ptr, ptr + bytes.size()); false if out of bounds.
  bool write(uint32_t ptr, std::span<const uint8_t> bytes) const {
    if (bytes.size() > UINT32_MAX) return false;
    auto s = slice(ptr, static_cast<uint32_t>(bytes.size()));
    if (!s) return false;
    if (!bytes.empty()) std::memcpy(s->data(), bytes.data(), bytes.size());
    return true;
  }

  // Little-endian scalar stores (wasm is little-endian; so is every host we
  // build for, which a static_assert in host_calls/glue.cc checks).
  bool writeU32(uint32_t ptr, uint32_t v) const {
    return write(ptr, {reinterpret_cast<const uint8_t*>(&v), sizeof v});
  }
  bool writeI64(uint32_t ptr, int64_t v) const {
    return write(ptr, {reinterpret_cast<const uint8_t*>(&v), sizeof v});
  }

  size_t size() const { return size_; }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
};

}  // namespace habanero::runtime
