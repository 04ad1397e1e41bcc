// SnapshotStore: atomic files with a checked header and payload, listed newest first, pruned to
// the newest few; every kind of damage is refused with the file named.
#include "snapshot_store.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "crc32c.h"
#include "temp_dir.h"

using replywatch::Duration;
using replywatch::Instant;
using replywatch::SnapshotReader;
using replywatch::SnapshotWriter;
using replywatch::server::SnapshotFile;
using replywatch::server::SnapshotStore;
using rwtest::TempDir;

namespace {

const Instant kWrittenAt = Instant(Duration(1795359600000));

std::string payload_of(std::uint64_t n) {
  std::string text;
  for (std::uint64_t i = 0; i < n; ++i) text += static_cast<char>('a' + i % 26);
  return text;
}

void write(const SnapshotStore& store, std::uint64_t sequence, const std::string& payload) {
  const std::error_code error =
      store.write(sequence, kWrittenAt, [&](SnapshotWriter& out) { out.string(payload); });
  REQUIRE_FALSE(error);
}

std::string read_payload(const SnapshotStore& store, const SnapshotFile& file, std::string& error) {
  const auto loaded = store.read(file, error);
  if (!loaded) return {};
  SnapshotReader in(loaded->payload());
  std::string text = in.string();
  in.expect_end();
  return text;
}

void flip_byte(const std::string& path, std::size_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  file.get(c);
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(static_cast<char>(c ^ 0x20));
}

}  // namespace

TEST_CASE("snapshot_store: a written snapshot reads back, newest first", "[snapshot_store]") {
  TempDir dir("snapshots");
  const SnapshotStore store(dir.file("snapshots"));
  REQUIRE_FALSE(store.prepare());
  std::error_code error;
  CHECK(store.list(error).empty());
  CHECK_FALSE(error);

  write(store, 7, payload_of(100));
  write(store, 1'000'000'000'000ULL, payload_of(3'000'000));  // several writer buffers
  write(store, 42, "");
  const auto files = store.list(error);
  REQUIRE(files.size() == 3);
  CHECK(files[0].sequence == 1'000'000'000'000ULL);
  CHECK(files[1].sequence == 42);
  CHECK(files[2].sequence == 7);
  CHECK(std::filesystem::path(files[2].path).filename() == "snapshot-00000000000000000007.rws");

  std::string problem;
  CHECK(read_payload(store, files[0], problem) == payload_of(3'000'000));
  CHECK(problem.empty());
  const auto loaded = store.read(files[2], problem);
  REQUIRE(loaded);
  CHECK(loaded->sequence() == 7);
  CHECK(loaded->written_at() == kWrittenAt);
  CHECK(read_payload(store, files[1], problem).empty());
  // no temporary file is left behind
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(store.directory()))
    ++entries;
  CHECK(entries == 3);
}

TEST_CASE("snapshot_store: damage anywhere in a snapshot is refused, naming the file",
          "[snapshot_store]") {
  TempDir dir("snapshots");
  const SnapshotStore store(dir.str());
  write(store, 5, payload_of(1000));
  std::error_code error;
  const SnapshotFile file = store.list(error).at(0);
  const auto size = std::filesystem::file_size(file.path);

  SECTION("a flipped bit in every part of the file") {
    for (std::size_t offset = 0; offset < size; offset += 1 + offset / 4) {
      INFO("offset " << offset);
      flip_byte(file.path, offset);
      std::string problem;
      CHECK(store.read(file, problem) == nullptr);
      CHECK(problem.find(file.path) != std::string::npos);
      flip_byte(file.path, offset);  // undone
      CHECK(store.read(file, problem) != nullptr);
    }
  }
  SECTION("cut short") {
    for (const std::uintmax_t length :
         {std::uintmax_t{0}, std::uintmax_t{10}, std::uintmax_t{48}, std::uintmax_t{size - 1}}) {
      INFO("length " << length);
      std::filesystem::copy_file(file.path, dir.file("copy"),
                                 std::filesystem::copy_options::overwrite_existing);
      std::filesystem::resize_file(dir.file("copy"), length);
      std::string problem;
      CHECK(store.read(SnapshotFile{dir.file("copy"), 5}, problem) == nullptr);
      CHECK_FALSE(problem.empty());
    }
  }
  SECTION("renamed to another sequence") {
    const std::string other = dir.file("snapshot-00000000000000000009.rws");
    std::filesystem::rename(file.path, other);
    std::string problem;
    CHECK(store.read(SnapshotFile{other, 9}, problem) == nullptr);
    CHECK(problem.find("covers sequence 5") != std::string::npos);
  }
  SECTION("another format version, its checksums intact") {
    // An older or newer build's file: refused by its version (the restart then tries an older
    // snapshot, else the log alone), never decoded as this build's format.
    for (const std::uint32_t version : {replywatch::server::kSnapshotFormatVersion - 1,
                                        replywatch::server::kSnapshotFormatVersion + 1}) {
      std::string bytes;
      {
        std::ifstream in(file.path, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
      }
      std::memcpy(bytes.data() + 8, &version, sizeof version);
      const std::uint32_t header_crc =
          replywatch::storage::crc32c(std::string_view(bytes.data(), 44));
      std::memcpy(bytes.data() + 44, &header_crc, sizeof header_crc);
      std::ofstream(file.path, std::ios::binary | std::ios::trunc) << bytes;
      std::string problem;
      CHECK(store.read(file, problem) == nullptr);
      CHECK(problem == fmt::format("{}: format version {} (this build reads {})", file.path,
                                   version, replywatch::server::kSnapshotFormatVersion));
    }
  }
  SECTION("missing") {
    std::filesystem::remove(file.path);
    std::string problem;
    CHECK(store.read(file, problem) == nullptr);
    CHECK(problem.find("cannot open") != std::string::npos);
  }
}

TEST_CASE("snapshot_store: prune keeps the newest and drops unfinished writes",
          "[snapshot_store]") {
  TempDir dir("snapshots");
  const SnapshotStore store(dir.str());
  for (std::uint64_t sequence : {3, 10, 1, 7}) write(store, sequence, payload_of(sequence));
  dir.write("snapshot-00000000000000000011.rws.tmp.123", "half");
  dir.write("unrelated.txt", "kept");
  REQUIRE_FALSE(store.prune(2));
  std::error_code error;
  const auto files = store.list(error);
  REQUIRE(files.size() == 2);
  CHECK(files[0].sequence == 10);
  CHECK(files[1].sequence == 7);
  CHECK_FALSE(std::filesystem::exists(dir.file("snapshot-00000000000000000011.rws.tmp.123")));
  CHECK(std::filesystem::exists(dir.file("unrelated.txt")));
}

TEST_CASE("snapshot_store: a failed write leaves nothing behind", "[snapshot_store]") {
  TempDir dir("snapshots");
  const SnapshotStore store(dir.file("missing/deeper"));
  CHECK(store.write(1, kWrittenAt, [](SnapshotWriter& out) { out.u64(1); }));
  const SnapshotStore good(dir.str());
  CHECK_THROWS(good.write(2, kWrittenAt, [](SnapshotWriter&) { throw std::runtime_error("x"); }));
  std::error_code error;
  CHECK(good.list(error).empty());
}
