// What the route tables hand to their handlers: the services, never HTTP machinery.
#pragma once

#include <chrono>

#include "common/clock.hpp"
#include "common/config.hpp"
#include "common/metrics.hpp"
#include "store/store.hpp"

namespace kvmhub::auth {
class UserService;
class Directory;
class TokenSigner;
class SessionService;
class LoginThrottle;
class AuditLog;
class LinkService;
}  // namespace kvmhub::auth

namespace kvmhub::catalog {
class Catalog;
}  // namespace kvmhub::catalog

namespace kvmhub::cloudinit {
class SeedService;
}  // namespace kvmhub::cloudinit

namespace kvmhub::vm {
class VmService;
class TaskService;
}  // namespace kvmhub::vm

namespace kvmhub::console {
class ConsoleService;
}  // namespace kvmhub::console

namespace kvmhub::api {

struct ApiContext {
    const Config& config;
    Clock& clock;
    store::Store& store;
    Metrics& metrics;
    auth::UserService& users;
    const auth::Directory& directory;
    auth::TokenSigner& tokens;
    auth::SessionService& sessions;
    auth::LoginThrottle& throttle;
    auth::AuditLog& audit;
    catalog::Catalog& catalog;
    vm::VmService& vms;
    cloudinit::SeedService& seeds;
    vm::TaskService& tasks;
    auth::LinkService& links;
    console::ConsoleService& consoles;
};

}  // namespace kvmhub::api
