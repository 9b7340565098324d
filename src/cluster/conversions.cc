#include "cluster/conversions.h"

namespace habanero::cluster {
namespace {

void headersToProto(const Headers& headers,
                    google::protobuf::RepeatedPtrField<v1::Header>& out) {
  out.Reserve(static_cast<int>(headers.size()));
  for (const auto& [name, value] : headers) {
    v1::Header* h = out.Add();
    h->set_name(name);
    h->set_value(value);
  }
}

Headers headersFromProto(const google::protobuf::RepeatedPtrField<v1::Header>& in) {
  Headers headers;
  headers.reserve(in.size());
  for (const v1::Header& h : in) headers.emplace_back(h.name(), h.value());
  return headers;
}

}  // namespace

void toProto(const Request& request, std::string_view request_id, uint32_t deadline_ms,
             v1::DispatchRequest& out) {
  out.set_request_id(std::string(request_id));
  out.set_deadline_ms(deadline_ms);
  out.set_method(request.method);
  out.set_path(request.path);
  out.set_query(request.query);
  headersToProto(request.headers, *out.mutable_headers());
  out.set_body(request.body);
  out.set_remote_addr(request.remote_addr);
  out.set_secure(request.secure);
}

Request fromProto(const v1::DispatchRequest& in) {
  Request r;
  r.method = in.method();
  r.path = in.path();
  r.query = in.query();
  r.headers = headersFromProto(in.headers());
  r.body = in.body();
  r.remote_addr = in.remote_addr();
  r.secure = in.secure();
  return r;
}

void toProto(const Response& response, v1::DispatchResponse& out) {
  out.set_status(response.status);
  headersToProto(response.headers, *out.mutable_headers());
  out.set_body(response.body);
}

Response fromProto(const v1::DispatchResponse& in) {
  if (in.status() < 100 || in.status() > 599) {
    return Response::text(502, "bad gateway: the worker answered an invalid status\n");
  }
  Response r;
  r.status = in.status();
  r.headers = headersFromProto(in.headers());
  r.body = in.body();
  return r;
}

}  // namespace habanero::cluster
