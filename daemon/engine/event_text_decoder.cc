// decode_event_text: one NDJSON line read by Boost.JSON's push parser straight into the fields
// of an event, without building a boost::json::value (its objects, keys and strings are most of
// what decoding a line used to cost). The grammar, its limits and "the last duplicate member
// wins" are the same as boost::json::parse's, so a line is bad_json exactly when it was.
#include <boost/json/basic_parser_impl.hpp>
#include <string>

#include "event_fields.h"
#include "replywatch/event_codec.h"

namespace replywatch {
namespace {

using Kind = EventField::Kind;
using boost::json::error_code;
using boost::json::string_view;

// Keeps the members of the top-level object that name event fields; skips the rest, nested
// values included.
class FieldCollector {
 public:
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  void clear() {
    fields_ = EventFields{};
    depth_ = 0;
    top_is_object_ = false;
    current_ = nullptr;
    key_.clear();
  }

  bool top_is_object() const { return top_is_object_; }
  const EventFields& fields() const { return fields_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code&) {
    if (depth_ == 0) top_is_object_ = true;
    container_value();
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(error_code&) {
    container_value();
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, error_code&) {
    --depth_;
    return true;
  }

  bool on_key_part(string_view part, std::size_t, error_code&) {
    if (depth_ == 1) key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(string_view part, std::size_t, error_code&) {
    if (depth_ != 1) return true;
    key_.append(part.data(), part.size());
    current_ = nullptr;
    if (const auto name = event_field_named(key_)) {
      const auto index = static_cast<std::size_t>(*name);
      current_ = &fields_.fields[index];
      current_text_ = &texts_[index];
      current_text_->clear();  // a later duplicate member replaces an earlier one
    }
    key_.clear();
    return true;
  }

  bool on_string_part(string_view part, std::size_t, error_code&) {
    if (taking()) current_text_->append(part.data(), part.size());
    return true;
  }
  bool on_string(string_view part, std::size_t, error_code&) {
    if (taking()) {
      current_text_->append(part.data(), part.size());
      set(Kind::kString).text = *current_text_;
      current_ = nullptr;
    }
    return true;
  }

  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t value, string_view, error_code&) {
    if (taking()) set(Kind::kInt64).int64 = value;
    return true;
  }
  bool on_uint64(std::uint64_t value, string_view, error_code&) {
    if (taking()) set(Kind::kUint64).uint64 = value;
    return true;
  }
  bool on_double(double value, string_view, error_code&) {
    if (taking()) set(Kind::kDouble).real = value;
    return true;
  }
  bool on_bool(bool, error_code&) {
    if (taking()) set(Kind::kOther);
    return true;
  }
  bool on_null(error_code&) {
    if (taking()) set(Kind::kNull);
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  // A value of a wanted member of the top-level object is being read.
  bool taking() const { return depth_ == 1 && current_ != nullptr; }

  EventField& set(Kind kind) {
    EventField& field = *current_;
    field = EventField{};
    field.kind = kind;
    if (kind != Kind::kString) current_ = nullptr;
    return field;
  }

  void container_value() {
    if (taking()) set(Kind::kOther);
  }

  EventFields fields_;
  std::array<std::string, kEventFieldCount> texts_;  // kept between lines: no allocation
  std::string key_;
  std::size_t depth_ = 0;
  bool top_is_object_ = false;
  EventField* current_ = nullptr;
  std::string* current_text_ = nullptr;
};

}  // namespace

std::variant<Event, Rejection> decode_event_text(std::string_view text,
                                                 const PlatformKnown& platform_known) {
  // One parser per thread, reused: its stack and the collector's buffers stay allocated.
  thread_local boost::json::basic_parser<FieldCollector> parser{boost::json::parse_options{}};
  parser.reset();
  parser.handler().clear();
  error_code error;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), error);
  if (error || used < text.size()) return Rejection{RejectReason::kBadJson, {}};
  if (!parser.handler().top_is_object()) return Rejection{RejectReason::kNotAnObject, {}};
  return validate_event_fields(parser.handler().fields(), platform_known);
}

}  // namespace replywatch
