#include "cluster/credentials.h"

#include <fstream>
#include <sstream>

#include "habanero/strings.h"

namespace habanero::cluster {
namespace {

absl::StatusOr<std::string> readPem(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(strCat(what, ": ", path, ": cannot read"));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(strCat(what, ": ", path, ": not a PEM file"));
  }
  return text.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> serverCredentials(const TlsFiles& files) {
  if (files.empty()) return grpc::InsecureServerCredentials();
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError("cluster.tls_cert and cluster.tls_key must be set together");
  }
  grpc::SslServerCredentialsOptions options(
      files.ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                       : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, readPem(files.cert, "cluster.tls_cert"));
  ASSIGN_OR_RETURN(pair.private_key, readPem(files.key, "cluster.tls_key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!files.ca.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, readPem(files.ca, "cluster.tls_ca"));
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channelCredentials(
    const TlsFiles& files) {
  if (files.empty()) return grpc::InsecureChannelCredentials();
  if (files.ca.empty()) {
    return absl::InvalidArgumentError(
        "cluster.tls_ca must be set for TLS to workers (the CA that signed their certificates)");
  }
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("cluster.tls_cert and cluster.tls_key must be set together");
  }
  grpc::SslCredentialsOptions options;
  ASSIGN_OR_RETURN(options.pem_root_certs, readPem(files.ca, "cluster.tls_ca"));
  if (!files.cert.empty()) {
    ASSIGN_OR_RETURN(options.pem_cert_chain, readPem(files.cert, "cluster.tls_cert"));
    ASSIGN_OR_RETURN(options.pem_private_key, readPem(files.key, "cluster.tls_key"));
  }
  return grpc::SslCredentials(options);
}

}  // namespace habanero::cluster
