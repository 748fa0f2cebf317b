// SPDX-License-Identifier: LGPL-2.1-or-later
// The one door through which the core reads JSON it did not build itself.
#include "core/util/json_util.h"

#include <cstring>

namespace kling::json {

namespace {

// Deep enough for any reply or schema WaveSpeed sends (they nest under 10), far below
// what json-glib 1.6 recurses through before the stack runs out (it has no limit).
constexpr int kMaxDepth = 128;

// A strict RFC 8259 check of exactly one value, iterative where it matters and
// bounded in depth. json-glib alone is not strict enough to be handed bytes from
// the network: `1 {}` loads (1.6 keeps the first value; 1.10 makes an array of both
// that an immutable parser then asserts on in json_parser_get_root), `[[[...` 200000
// deep overflows 1.6's stack, "\udc00" becomes invalid UTF-8 in the tree, an integer
// past 64 bits becomes -1, and `'a'`, `0x10`, `var a = 1;` and comments are taken.
class Checker {
 public:
  explicit Checker(std::string_view text) : s_(text) {}

  bool run(std::string* error) {
    if (s_.empty()) return fail("empty", error);
    if (!g_utf8_validate_len(s_.data(), s_.size(), nullptr)) {
      const char* end = nullptr;
      g_utf8_validate_len(s_.data(), s_.size(), &end);
      at_ = static_cast<size_t>(end - s_.data());
      return fail(s_[at_] == '\0' ? "a NUL byte" : "invalid UTF-8", error);
    }
    skip_space();
    if (at_ == s_.size()) return fail("only white space", error);
    if (!value(0)) return fail(why_, error);
    skip_space();
    if (at_ != s_.size()) return fail("more after the first value", error);
    return true;
  }

 private:
  bool fail(const char* why, std::string* error) {
    if (error) *error = std::string("not JSON: ") + why + " at byte " + std::to_string(at_);
    return false;
  }
  bool bad(const char* why) {
    why_ = why;
    return false;
  }
  bool more() const { return at_ < s_.size(); }
  char peek() const { return more() ? s_[at_] : '\0'; }
  void skip_space() {
    while (more() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r'))
      at_++;
  }
  bool word(const char* w) {
    const size_t n = std::strlen(w);
    if (s_.compare(at_, n, w) != 0) return bad("an unknown word");
    at_ += n;
    return true;
  }

  bool value(int depth) {
    switch (peek()) {
      case '{':
      case '[':
        return container(depth + 1);
      case '"':
        return string();
      case 't':
        return word("true");
      case 'f':
        return word("false");
      case 'n':
        return word("null");
      default:
        return number();
    }
  }

  bool container(int depth) {
    if (depth > kMaxDepth) return bad("nested too deep");
    const bool object = s_[at_++] == '{';
    const char close = object ? '}' : ']';
    skip_space();
    if (peek() == close) {
      at_++;
      return true;
    }
    for (;;) {
      if (object) {
        if (peek() != '"') return bad("a member without a quoted name");
        if (!string()) return false;
        skip_space();
        if (peek() != ':') return bad("a member without ':'");
        at_++;
        skip_space();
      }
      if (!value(depth)) return false;
      skip_space();
      if (peek() == close) {
        at_++;
        return true;
      }
      if (peek() != ',')
        return bad(object ? "an object not closed by '}'" : "an array not closed by ']'");
      at_++;
      skip_space();
    }
  }

  int hex4() {  // the code unit of a \uXXXX whose 'u' was just read, or -1
    if (s_.size() - at_ < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
      const int d = g_ascii_xdigit_value(s_[at_ + i]);
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    at_ += 4;
    return v;
  }

  bool string() {
    at_++;  // the opening quote
    while (more()) {
      const unsigned char c = static_cast<unsigned char>(s_[at_]);
      if (c == '"') {
        at_++;
        return true;
      }
      if (c < 0x20) return bad("a control character in a string");
      at_++;
      if (c != '\\') continue;
      const char e = peek();
      at_++;
      if (e != '\0' && std::strchr("\"\\/bfnrt", e)) continue;
      if (e != 'u') return bad("an unknown escape in a string");
      const int unit = hex4();
      if (unit < 0) return bad("a \\u escape without four hex digits");
      if (unit >= 0xDC00 && unit <= 0xDFFF) return bad("a lone low surrogate in a string");
      if (unit >= 0xD800 && unit <= 0xDBFF) {
        if (s_.compare(at_, 2, "\\u") != 0) return bad("a lone high surrogate in a string");
        at_ += 2;
        const int low = hex4();
        if (low < 0xDC00 || low > 0xDFFF) return bad("a lone high surrogate in a string");
      }
    }
    return bad("an unterminated string");
  }

  bool digits() {
    const size_t start = at_;
    while (g_ascii_isdigit(peek())) at_++;
    return at_ > start;
  }

  bool number() {
    const size_t start = at_;
    if (peek() == '-') at_++;
    if (peek() == '0')
      at_++;
    else if (!digits())
      return bad(at_ == start ? "an unexpected character" : "a '-' without digits");
    bool integer = true;
    if (peek() == '.') {
      at_++;
      integer = false;
      if (!digits()) return bad("a '.' without digits");
    }
    if (peek() == 'e' || peek() == 'E') {
      at_++;
      integer = false;
      if (peek() == '+' || peek() == '-') at_++;
      if (!digits()) return bad("an exponent without digits");
    }
    if (integer) {  // json-glib reads an integer past 64 bits as a wrong one
      const std::string text(s_.substr(start, at_ - start));
      gint64 v = 0;
      if (!g_ascii_string_to_signed(text.c_str(), 10, G_MININT64, G_MAXINT64, &v, nullptr)) {
        at_ = start;
        return bad("an integer beyond 64 bits");
      }
    }
    return true;
  }

  std::string_view s_;
  size_t at_ = 0;
  const char* why_ = "";
};

}  // namespace

bool is_one_value(std::string_view text, std::string* error) {
  return Checker(text).run(error);
}

JsonNode* parse(std::string_view text, std::string* error) {
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0)
    text.remove_prefix(3);  // a byte order mark, which RFC 8259 lets a reader ignore
  if (!is_one_value(text, error)) return nullptr;
  // Never json_parser_new_immutable(): on 1.10 its json_parser_get_root asserts that
  // the root is sealed, and the one-value check above is what keeps a second root out.
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) gerr = nullptr;
  if (!json_parser_load_from_data(parser, text.data(), static_cast<gssize>(text.size()), &gerr)) {
    if (error) *error = std::string("not JSON: ") + (gerr ? gerr->message : "unreadable");
    return nullptr;
  }
  JsonNode* root = json_parser_get_root(parser);
  if (!root) {
    if (error) *error = "not JSON: no value";
    return nullptr;
  }
  return json_node_ref(root);
}

JsonNode* parse_file(const std::string& path, std::string* error) {
  gchar* data = nullptr;
  gsize size = 0;
  g_autoptr(GError) gerr = nullptr;
  if (!g_file_get_contents(path.c_str(), &data, &size, &gerr)) {
    if (error) *error = gerr->message;
    return nullptr;
  }
  g_autofree gchar* owned = data;
  return parse(std::string_view(data, size), error);
}

}  // namespace kling::json
