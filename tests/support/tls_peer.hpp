#pragma once
// What a TLS peer presented, for tests that tell certificates apart (the certificate reload tests). Header-only:
// its users link OpenSSL already.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <string>

namespace dispatch::testing {

// The common name of the certificate the peer of `ssl` presented; "" when none.
inline std::string PeerCommonName(SSL* ssl) {
    X509* peer = SSL_get1_peer_certificate(ssl);
    if (peer == nullptr) {
        return "";
    }
    std::array<char, 256> cn{};
    const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn.data(), cn.size());
    X509_free(peer);
    return n > 0 ? std::string(cn.data(), static_cast<std::size_t>(n)) : "";
}

}  // namespace dispatch::testing
