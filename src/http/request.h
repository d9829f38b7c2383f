// Request: one parsed HTTP request as the handlers see it, free of any HTTP library type.
//
// net/ fills it from Beast's parser; every string_view points into the connection's buffers and is
// valid until the handler's completion runs. Only the headers the handlers need are kept; for
// headers that may repeat, the first line wins (as Go's Header.Get), except X-Forwarded-For which
// net/ resolves into `client` before the handler runs.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/ip_address.h"

namespace rendezvous::http {

enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kOptions, kOther };

struct Request {
  Method method = Method::kOther;
  std::string_view method_text;  // as sent (case-sensitive: "post" is kOther)
  std::string_view target;       // request-target as sent: origin-form or absolute-form
  int version = 11;              // 10 or 11
  bool keep_alive = true;        // after Connection / version rules

  std::string_view host;  // Host header value (empty if absent)
  bool has_owner_secret = false;
  std::string_view owner_secret;     // first X-Owner-Secret line, OWS trimmed
  std::string_view accept_encoding;  // Accept-Encoding (first line)
  std::string_view if_match;         // If-Match (first line), empty if absent
  std::string_view if_none_match;    // If-None-Match (first line), empty if absent
  std::string_view if_modified_since;  // If-Modified-Since (first line), empty if absent
  std::string_view ttl;              // X-TTL (first line), empty if absent
  std::string_view origin;           // Origin (first line), empty if absent
  std::string_view prefer;           // every Prefer line joined with ',' (RFC 7240), empty if absent
  // Every X-Forwarded-For line joined with ',' (empty if absent). net/ has already resolved it
  // into `client`; the handler only reads it to say why a loopback request was not forwarded.
  std::string_view forwarded_for;
  // X-Forwarded-Proto, X-Forwarded-Host and Forwarded (RFC 7239), each line joined with ',', when
  // the TCP peer is a trusted proxy (-trustedProxies); empty otherwise, whatever was sent. Only
  // the index page reads them (public_origin.h), to show the URL the client used.
  std::string_view forwarded_proto;
  std::string_view forwarded_host;
  std::string_view forwarded;

  std::string_view body;  // complete body (already bounded by the size limit)
  // The body was longer than the size limit: net/ stopped reading it (and closes the connection
  // after the answer). The handler still rate-limits first, then answers 413.
  bool body_too_large = false;

  common::IpAddress client;                // the client address after trusted-proxy resolution
  // The TCP peer is loopback and `client` is that peer: X-Forwarded-For was absent, or the peer
  // is not a trusted proxy, or the header's right-most entry is not an address.
  bool client_is_loopback_direct = false;

  // When net/ read the bytes that completed this request, on common::Clock::MonotonicNanos(); 0
  // when net/ does not say (then the Router reads the clock itself). The request's duration
  // counts from here, and requests that arrived in one read share one clock reading.
  int64_t received_nanos = 0;
};

}  // namespace rendezvous::http
