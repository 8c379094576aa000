// Admin sessions: every token names one (claim "sid"), and the session is a record in the store
// at /sessions/<user>/<sid>:
//   {"id","user","created","ends","refreshed","refreshes","ip","source"}   (times in Unix seconds;
//   records without "source" are local logins)
// `ends` is the absolute end (login + auth.session_lifetime); no refresh moves it. Ending a
// session deletes its record. The admin guard reads the record by its key on every request (one
// primary-key read, no cache), so a session ended by another process on the same store (the
// offline `kvmhubd user del|disable|passwd`) is refused on the next request.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace kvmhub::auth {

inline constexpr std::string_view kSessionsPrefix = "/sessions/";

struct Session {
    std::string id;
    std::string user;
    std::int64_t created = 0;
    std::int64_t ends = 0;       // the absolute end; the session is over once now >= ends
    std::int64_t refreshed = 0;  // last /api/refresh, 0 = never
    std::int64_t refreshes = 0;
    std::string ip;  // the client address of the login
    std::string source = "local";  // "local" (a user of the store) or "directory" (auth/directory.hpp)

    nlohmann::json to_json() const;
};

// The longest session id accepted anywhere (ids kvmhub makes are shorter).
inline constexpr std::size_t kMaxSidLength = 64;

// BadInput (where="sid") unless `sid` looks like one we issue: [A-Za-z0-9_-]{1,64}.
Status validate_session_id(std::string_view sid);

// /sessions/<user>/ and /sessions/<user>/<sid>.
std::string session_user_prefix(std::string_view user);
std::string session_key(std::string_view user, std::string_view sid);

class SessionService {
public:
    SessionService(store::Store& store, const Clock& clock, std::chrono::seconds lifetime);

    std::chrono::seconds lifetime() const { return lifetime_; }

    // A new session record (random id from the CSPRNG, ends = now + lifetime), not yet stored.
    Session make(const std::string& user, const std::string& ip, std::string_view source = "local") const;
    // The store operation that writes `session` (for a transaction of the caller's).
    store::Op put_op(const Session& session) const;
    // make() + put: for callers with nothing else to commit along with it.
    Result<Session> start(const std::string& user, const std::string& ip, std::string_view source = "local");

    // The guard's check, one read by key: the live session, or Unauthorized (where="session")
    // when it does not exist (ended, user removed or disabled, password changed) or is past its end.
    Result<Session> check(std::string_view user, std::string_view sid) const;

    // Records a refresh (compare-and-swap). Unauthorized as check(), also once past `ends`.
    Result<Session> refresh(std::string_view user, std::string_view sid);

    // Ends one session; false when there was none.
    Result<bool> end(std::string_view user, std::string_view sid);
    // The live session with this id, of any user (a scan; for the admin routes).
    Result<std::optional<Session>> find(std::string_view sid) const;
    // Live sessions, oldest first; of `user` only when not empty.
    Result<std::vector<Session>> list(std::string_view user = {}) const;
    // Deletes the records of every session past its end; returns how many.
    Result<std::int64_t> prune_expired();

private:
    store::Store& store_;
    const Clock& clock_;
    std::chrono::seconds lifetime_;
};

}  // namespace kvmhub::auth
