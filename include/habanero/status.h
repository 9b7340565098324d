// Error handling for the host: absl::Status / absl::StatusOr, no exceptions on
// the request path.
//
//   absl::StatusOr<int> parsePort(std::string_view s);
//   absl::Status load() {
//     ASSIGN_OR_RETURN(int port, parsePort(text));
//     RETURN_IF_ERROR(bind(port));
//     return absl::OkStatus();
//   }
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HABANERO_CONCAT_INNER_(a, b) a##b
#define HABANERO_CONCAT_(a, b) HABANERO_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                \
  do {                                                       \
    ::absl::Status habanero_status_ = (expr);                \
    if (!habanero_status_.ok()) return habanero_status_;     \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status if not OK,
// otherwise moves the value into `lhs` (which may be a declaration).
#define ASSIGN_OR_RETURN(lhs, rexpr)                                             \
  auto HABANERO_CONCAT_(habanero_sor_, __LINE__) = (rexpr);                      \
  if (!HABANERO_CONCAT_(habanero_sor_, __LINE__).ok())                           \
    return HABANERO_CONCAT_(habanero_sor_, __LINE__).status();                   \
  lhs = std::move(*HABANERO_CONCAT_(habanero_sor_, __LINE__))
