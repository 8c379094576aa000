#include "cloudinit/iso.hpp"

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

// Gives libisofs.h's copy of struct burn_source: the image comes out through it, and libburn is not used.
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs.h>

#include "common/cfree.hpp"

namespace kvmhub::cloudinit {
namespace {

constexpr std::size_t kMaxName = 64;  // Joliet's limit, so that all three trees carry the name as given
constexpr int kBlock = 2048;

// Every timestamp in the image (2000-01-01T00:00:00Z): the bytes depend on the files alone, never on the clock.
constexpr std::time_t kTimestamp = 946684800;

void free_burn_source(burn_source* source) {
    // What libburn's burn_source_free() does with the last reference: free_data() joins the writer thread.
    source->free_data(source);
    std::free(source);
}

using Image = CPtr<IsoImage, iso_image_unref>;
using WriteOpts = CPtr<IsoWriteOpts, iso_write_opts_free>;
using Stream = CPtr<IsoStream, iso_stream_unref>;
using BurnSource = CPtr<burn_source, free_burn_source>;

tl::unexpected<Error> libisofs_error(std::string_view what, int rc) {
    return fail(Errc::Internal, "cidata", fmt::format("libisofs could not {}: {}", what, iso_error_to_msg(rc)));
}

bool plain_name(const std::string& name) {
    if (name.empty() || name.size() > kMaxName || name == "." || name == "..") return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-';
    });
}

Status check_names(const std::map<std::string, std::string>& files) {
    for (const auto& [name, content] : files) {
        if (plain_name(name)) continue;
        // A bad name can be anything: keep the message short.
        const std::string shown = name.size() > 100 ? name.substr(0, 100) + "..." : name;
        return fail(Errc::BadInput, "files",
                    fmt::format("'{}' is not a plain file name: use 1 to {} of A-Z a-z 0-9 . _ - (not . or ..)", shown,
                                kMaxName));
    }
    return {};
}

// iso_init() once for the process; iso_finish() never, so no build can find the library torn down.
int init_libisofs() {
    static std::once_flag once;
    static int rc = 0;
    // bit0: leave the process locale alone (names are ASCII, they need no charset from the environment).
    std::call_once(once, [] { rc = iso_init_with_flag(1); });
    return rc;
}

// libisofs keeps process-wide state without locks (image and stream serial numbers, one shared reference-counted
// local filesystem object per process): one image at a time. A build takes well under a millisecond.
std::mutex& libisofs_mutex() {
    static std::mutex m;
    return m;
}

Result<WriteOpts> write_options() {
    IsoWriteOpts* raw = nullptr;
    if (const int rc = iso_write_opts_new(&raw, 0); rc < 0) return libisofs_error("create write options", rc);
    WriteOpts opts(raw);
    // Volume descriptors: the same instant, given as YYYYMMDDhhmmsscc so that no time zone gets into it.
    char volume_time[] = "2000010100000000";
    for (const int rc : {
             iso_write_opts_set_iso_level(opts.get(), 2),
             iso_write_opts_set_rockridge(opts.get(), 1),
             iso_write_opts_set_joliet(opts.get(), 1),
             // "cidata" as is: plain ISO 9660 would upper-case it, and blkid would report LABEL=CIDATA.
             iso_write_opts_set_relaxed_vol_atts(opts.get(), 1),
             // The ISO 9660 tree gets the names as given ("meta-data", not "META_DAT.;1"), for readers that
             // ignore Rock Ridge and Joliet; the names are checked to be safe for that.
             iso_write_opts_set_untranslated_name_len(opts.get(), static_cast<int>(kMaxName)),
             // Joliet names as given too, as genisoimage (so cloud-localds) writes them: no ";1", no "." added.
             iso_write_opts_set_omit_version_numbers(opts.get(), 2),
             iso_write_opts_set_no_force_dots(opts.get(), 2),
             // Owner root, read-only: nothing of the machine that built it.
             iso_write_opts_set_replace_mode(opts.get(), 2, 2, 2, 2),
             iso_write_opts_set_default_dir_mode(opts.get(), 0555),
             iso_write_opts_set_default_file_mode(opts.get(), 0444),
             iso_write_opts_set_default_uid(opts.get(), 0),
             iso_write_opts_set_default_gid(opts.get(), 0),
             // Fixed times in Rock Ridge and in the directory records of the ISO 9660 and Joliet trees, in UTC
             // (recent libisofs also derives the records' time from the volume time below; older ones took the
             // clock).
             iso_write_opts_set_replace_timestamps(opts.get(), 2),
             iso_write_opts_set_default_timestamp(opts.get(), kTimestamp),
             iso_write_opts_set_dir_rec_mtime(opts.get(), 1 | 2),
             iso_write_opts_set_always_gmt(opts.get(), 1),
             iso_write_opts_set_pvd_times(opts.get(), kTimestamp, kTimestamp, 0, 0, volume_time),
         }) {
        if (rc < 0) return libisofs_error("set the write options", rc);
    }
    return opts;
}

Status add_file(IsoImage* image, const std::string& name, const std::string& content) {
    // The stream takes the buffer and free()s it; malloc(0) may give NULL, which it refuses.
    auto* buffer = static_cast<unsigned char*>(std::malloc(std::max<std::size_t>(content.size(), 1)));
    if (buffer == nullptr) return fail(Errc::Internal, "cidata", "out of memory");
    std::memcpy(buffer, content.data(), content.size());
    IsoStream* raw = nullptr;
    if (const int rc = iso_memory_stream_new(buffer, content.size(), &raw); rc < 0) {
        std::free(buffer);
        return libisofs_error(fmt::format("store {}", name), rc);
    }
    Stream stream(raw);
    // On success the new file holds the stream's only reference.
    if (const int rc = iso_image_add_new_file(image, iso_image_get_root(image), name.c_str(), stream.get(), nullptr);
        rc < 0)
        return libisofs_error(fmt::format("add {}", name), rc);
    stream.release();
    return {};
}

// The writer thread fills a ring buffer that this thread drains; the image size is known up front.
Result<std::string> read_image(burn_source* source) {
    const off_t size = source->get_size(source);
    if (size <= 0 || size % kBlock != 0)
        return fail(Errc::Internal, "cidata", fmt::format("libisofs announced an image of {} bytes", size));
    std::string image(static_cast<std::size_t>(size), '\0');
    for (std::size_t done = 0; done < image.size();) {
        const int chunk = static_cast<int>(std::min<std::size_t>(image.size() - done, 32 * kBlock));
        const int n = source->read_xt(source, reinterpret_cast<unsigned char*>(image.data() + done), chunk);
        if (n <= 0)
            return fail(Errc::Internal, "cidata",
                        fmt::format("libisofs stopped writing the image at byte {} of {}", done, image.size()));
        done += static_cast<std::size_t>(n);
    }
    // The end of the stream, which also tells that the writer finished without an error.
    unsigned char extra[kBlock];
    if (source->read_xt(source, extra, kBlock) != 0)
        return fail(Errc::Internal, "cidata", "libisofs wrote more or other than the image it announced");
    return image;
}

}  // namespace

Result<std::string> build_cidata_iso(const std::map<std::string, std::string>& files) {
    if (auto names = check_names(files); !names) return tl::unexpected(std::move(names.error()));
    if (const int rc = init_libisofs(); rc < 0) return libisofs_error("start", rc);

    std::lock_guard lock(libisofs_mutex());
    IsoImage* raw_image = nullptr;
    // The name becomes the volume id and the volume set id.
    if (const int rc = iso_image_new("cidata", &raw_image); rc < 0) return libisofs_error("create an image", rc);
    Image image(raw_image);
    for (const auto& [name, content] : files) {
        if (auto added = add_file(image.get(), name, content); !added) return tl::unexpected(std::move(added.error()));
    }
    auto opts = write_options();
    if (!opts) return tl::unexpected(std::move(opts.error()));
    burn_source* raw_source = nullptr;
    if (const int rc = iso_image_create_burn_source(image.get(), opts->get(), &raw_source); rc < 0)
        return libisofs_error("lay out the image", rc);
    BurnSource source(raw_source);
    return read_image(source.get());
}

}  // namespace kvmhub::cloudinit
