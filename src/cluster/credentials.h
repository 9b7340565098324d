// Transport security between gateway and workers. With no files configured
// the wire is plaintext (loopback, or a network the operator already trusts);
// with a certificate and key it is TLS; adding a CA makes it mutual TLS: a
// worker then accepts only gateways whose certificate that CA signed, and a
// gateway only workers whose certificate it signed.
//
//   TlsFiles tls{.cert = "worker.pem", .key = "worker.key", .ca = "ca.pem"};
//   ASSIGN_OR_RETURN(auto creds, serverCredentials(tls));
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "habanero/status.h"

namespace habanero::cluster {

struct TlsFiles {
  std::string cert;  // PEM chain, leaf first
  std::string key;   // PEM private key
  std::string ca;    // PEM CAs that sign the other side's certificates

  bool empty() const { return cert.empty() && key.empty() && ca.empty(); }
};

// A worker's credentials: insecure when `files` is empty, else TLS (cert and
// key required), requiring and verifying a client certificate when ca is set.
// InvalidArgument names the unreadable file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> serverCredentials(const TlsFiles& files);

// A gateway's credentials: insecure when `files` is empty, else TLS trusting
// `ca` (required), presenting cert/key when both are set.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channelCredentials(
    const TlsFiles& files);

}  // namespace habanero::cluster
