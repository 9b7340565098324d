// habanero::Request / habanero::Response <-> their protobuf messages
// (proto/habanero/v1/worker.proto). Lossless both ways: every field, headers
// in wire order, bytes as sent.
//
//   habanero::v1::DispatchRequest wire;
//   toProto(request, "req-1", 30000, wire);
//   Request again = fromProto(wire);   // == request
#pragma once

#include <cstdint>
#include <string_view>

#include "habanero/dispatch.h"
#include "habanero/v1/worker.pb.h"

namespace habanero::cluster {

void toProto(const Request& request, std::string_view request_id, uint32_t deadline_ms,
             v1::DispatchRequest& out);
Request fromProto(const v1::DispatchRequest& in);

void toProto(const Response& response, v1::DispatchResponse& out);
// A status outside 100..599 (a worker that sends nonsense) becomes a 502.
Response fromProto(const v1::DispatchResponse& in);

}  // namespace habanero::cluster
