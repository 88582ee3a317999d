#include "actors/edge/origin_parser.hpp"

#include <http_parser.h>

#include <climits>

namespace troupe::edge {

struct origin_response_parser::impl {
  impl(origin_parse_limits lim, bool head) : limits(lim), head_request(head) {
    reset();
  }

  void reset() {
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = this;
    res = cache::response{};
    body.clear();
    header_bytes = 0;
    field_open = false;
  }

  origin_parse_limits limits;
  bool head_request;
  http_parser parser;
  cache::response res;
  std::string body;
  size_t header_bytes = 0;
  bool field_open = false;
  state current = state::incomplete;
  bool keep = false;
  bool trailing = false;
  std::string error;

  bool fail(std::string why) {
    if (current != state::failed) {
      current = state::failed;
      error = std::move(why);
    }
    return false;
  }

  bool charge_header(size_t n) {
    header_bytes += n;
    if (header_bytes > limits.max_header_bytes)
      return fail("origin response header section exceeds "
                  + std::to_string(limits.max_header_bytes) + " bytes");
    return true;
  }

  static impl& of(http_parser* p) {
    return *static_cast<impl*>(p->data);
  }

  static int on_status(http_parser* p, const char*, size_t n) {
    return of(p).charge_header(n) ? 0 : -1;
  }

  static int on_field(http_parser* p, const char* at, size_t n) {
    auto& self = of(p);
    if (!self.charge_header(n))
      return -1;
    if (!self.field_open) {
      if (self.res.headers.size() >= self.limits.max_headers)
        return self.fail("origin response has more than "
                         + std::to_string(self.limits.max_headers)
                         + " header fields"), -1;
      self.res.headers.emplace_back();
      self.field_open = true;
    }
    self.res.headers.back().first.append(at, n);
    return 0;
  }

  static int on_value(http_parser* p, const char* at, size_t n) {
    auto& self = of(p);
    if (!self.charge_header(n))
      return -1;
    self.field_open = false;
    if (self.res.headers.empty())
      return -1;
    self.res.headers.back().second.append(at, n);
    return 0;
  }

  static int on_headers_complete(http_parser* p) {
    auto& self = of(p);
    self.res.status = static_cast<int>(p->status_code);
    for (auto& field : self.res.headers) {
      auto& v = field.second;
      auto first = v.find_first_not_of(" \t");
      auto last = v.find_last_not_of(" \t");
      v = first == std::string::npos ? std::string{}
                                     : v.substr(first, last - first + 1);
    }
    if (p->content_length != ULLONG_MAX && p->content_length > 0
        && p->content_length > self.limits.max_body_bytes && !self.head_request)
      return self.fail("origin response body of "
                       + std::to_string(p->content_length)
                       + " bytes exceeds the limit of "
                       + std::to_string(self.limits.max_body_bytes)), -1;
    // 1: no body (HEAD); 1xx/204/304 are handled by libhttp-parser itself.
    return self.head_request ? 1 : 0;
  }

  static int on_body(http_parser* p, const char* at, size_t n) {
    auto& self = of(p);
    if (self.body.size() + n > self.limits.max_body_bytes)
      return self.fail("origin response body exceeds "
                       + std::to_string(self.limits.max_body_bytes)
                       + " bytes"), -1;
    self.body.append(at, n);
    return 0;
  }

  static int on_complete(http_parser* p) {
    auto& self = of(p);
    // An interim response (100 Continue, 103 Early Hints): the real one
    // follows on the same stream.
    if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
      self.reset();
      return 0;
    }
    self.keep = http_should_keep_alive(p) != 0;
    self.res.body = std::make_shared<const std::string>(std::move(self.body));
    self.current = state::complete;
    http_parser_pause(p, 1);
    return 0;
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings x{};
      x.on_status = on_status;
      x.on_header_field = on_field;
      x.on_header_value = on_value;
      x.on_headers_complete = on_headers_complete;
      x.on_body = on_body;
      x.on_message_complete = on_complete;
      return x;
    }();
    return s;
  }

  state feed(const char* data, size_t size) {
    if (current != state::incomplete) {
      if (size > 0)
        trailing = true;
      return current;
    }
    auto used = http_parser_execute(&parser, &settings(), data, size);
    auto err = HTTP_PARSER_ERRNO(&parser);
    if (current == state::complete) {
      if (used < size)
        trailing = true;
      return current;
    }
    if (err != HPE_OK && current != state::failed)
      fail(std::string{"malformed origin response: "}
           + http_errno_description(err));
    return current;
  }
};

origin_response_parser::origin_response_parser(origin_parse_limits limits,
                                               bool head_request)
  : impl_(std::make_unique<impl>(limits, head_request)) {}

origin_response_parser::~origin_response_parser() = default;
origin_response_parser::origin_response_parser(origin_response_parser&&) noexcept
  = default;
origin_response_parser&
origin_response_parser::operator=(origin_response_parser&&) noexcept = default;

origin_response_parser::state origin_response_parser::feed(const char* data,
                                                           size_t size) {
  return impl_->feed(data, size);
}

origin_response_parser::state origin_response_parser::finish() {
  if (impl_->current != state::incomplete)
    return impl_->current;
  impl_->feed(nullptr, 0);
  if (impl_->current == state::incomplete)
    impl_->fail("origin closed the connection before the response ended");
  impl_->keep = false;
  return impl_->current;
}

bool origin_response_parser::keep_alive() const {
  return impl_->keep && !impl_->trailing;
}

bool origin_response_parser::trailing_bytes() const {
  return impl_->trailing;
}

cache::response& origin_response_parser::response() {
  return impl_->res;
}

const std::string& origin_response_parser::error() const {
  return impl_->error;
}

} // namespace troupe::edge
