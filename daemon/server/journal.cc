#include "journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>

namespace replywatch::server {
namespace {

constexpr std::size_t kReadChunk = 1 << 20;

std::error_code last_error() { return {errno, std::system_category()}; }

}  // namespace

void append_journal_record(std::string& out, Instant watermark, std::string_view event_json,
                           bool continues_batch) {
  std::array<char, 24> digits{};
  auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(),
                                 watermark.time_since_epoch().count());
  out.append(digits.data(), end);
  if (continues_batch) out.push_back('+');
  out.push_back('\t');
  out.append(event_json);
  out.push_back('\n');
}

std::optional<JournalRecord> parse_journal_record(std::string_view line) {
  const std::size_t tab = line.find('\t');
  if (tab == std::string_view::npos) return std::nullopt;
  const bool continues_batch = tab > 0 && line[tab - 1] == '+';
  const char* digits_end = line.data() + tab - (continues_batch ? 1 : 0);
  std::int64_t millis = 0;
  auto [ptr, ec] = std::from_chars(line.data(), digits_end, millis);
  if (ec != std::errc{} || ptr != digits_end) return std::nullopt;
  return JournalRecord{Instant(Duration(millis)), line.substr(tab + 1), continues_batch};
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code JournalWriter::open(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) return last_error();
  struct stat info {};
  if (::fstat(fd_, &info) != 0) return last_error();
  size_ = static_cast<std::uint64_t>(info.st_size);
  // The file's directory entry must survive a crash too.
  if (::fdatasync(fd_) != 0) return last_error();
  return {};
}

std::error_code JournalWriter::append(std::string_view records) {
  if (fd_ < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  std::size_t written = 0;
  std::error_code error;
  while (written < records.size()) {
    const ssize_t n = ::write(fd_, records.data() + written, records.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = last_error();
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (!error && ::fdatasync(fd_) != 0) error = last_error();
  if (error) {
    // Best effort: if even this fails, the restore skips the torn line; the client was told
    // 503 either way and will retry, and dedup absorbs the copy.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) ::fdatasync(fd_);
    return error;
  }
  size_ += records.size();
  return {};
}

JournalReader::~JournalReader() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code JournalReader::open(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT) {
      end_ = true;
      return {};
    }
    return last_error();
  }
  return {};
}

bool JournalReader::read(
    std::size_t max_lines,
    const std::function<void(std::string_view line, std::uint64_t number)>& line,
    std::error_code& error) {
  std::size_t done = 0;
  while (done < max_lines) {
    const std::size_t newline = buffer_.find('\n', consumed_);
    if (newline != std::string::npos) {
      ++lines_;
      line(std::string_view(buffer_).substr(consumed_, newline - consumed_), lines_);
      complete_bytes_ += newline + 1 - consumed_;
      consumed_ = newline + 1;
      ++done;
      continue;
    }
    if (end_) return false;
    buffer_.erase(0, consumed_);
    consumed_ = 0;
    const std::size_t old_size = buffer_.size();
    buffer_.resize(old_size + kReadChunk);
    ssize_t n = 0;
    do {
      n = ::read(fd_, buffer_.data() + old_size, kReadChunk);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      error = last_error();
      buffer_.resize(old_size);
      end_ = true;
      return false;
    }
    buffer_.resize(old_size + static_cast<std::size_t>(n));
    if (n == 0) end_ = true;
  }
  return true;
}

std::error_code truncate_journal(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? std::error_code{} : last_error();
  std::error_code error;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || ::fdatasync(fd) != 0) error = last_error();
  ::close(fd);
  return error;
}

}  // namespace replywatch::server
