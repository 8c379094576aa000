#include "auth/ssh_identity.hpp"

#include <libssh/libssh.h>

#include "common/cfree.hpp"

namespace kvmhub::auth {
namespace {

void free_ssh_string(char* s) {
    ssh_string_free_char(s);
}

}  // namespace

Result<std::string> ensure_ssh_identity(store::Store& store) {
    auto existing = store.get(kSshPublicKey);
    if (!existing) return tl::unexpected(existing.error());
    if (*existing) return (*existing)->value;

    ssh_key raw = nullptr;
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK)
        return fail(Errc::Internal, "ssh_key", "cannot generate an ed25519 key pair");
    CPtr<ssh_key_struct, ssh_key_free> key(raw);
    char* priv_raw = nullptr;
    char* pub_raw = nullptr;
    if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &priv_raw) != SSH_OK)
        return fail(Errc::Internal, "ssh_key", "cannot export the private key");
    CPtr<char, free_ssh_string> priv(priv_raw);
    if (ssh_pki_export_pubkey_base64(key.get(), &pub_raw) != SSH_OK)
        return fail(Errc::Internal, "ssh_key", "cannot export the public key");
    CPtr<char, free_ssh_string> pub(pub_raw);
    std::string public_line = std::string("ssh-ed25519 ") + pub.get() + " kvmhub";

    // Both halves in one transaction, only if no other daemon stored a pair meanwhile.
    store::Txn txn{{store::Compare{std::string(kSshPrivateKey), 0}, store::Compare{std::string(kSshPublicKey), 0}},
                   {store::Op::put(std::string(kSshPrivateKey), priv.get()),
                    store::Op::put(std::string(kSshPublicKey), public_line)}};
    auto committed = store.commit(txn);
    if (committed) return public_line;
    if (committed.error().code != Errc::Conflict) return tl::unexpected(committed.error());
    auto winner = store.get(kSshPublicKey);
    if (!winner) return tl::unexpected(winner.error());
    if (!*winner) return fail(Errc::Internal, "ssh_key", "the ssh key pair vanished while being created");
    return (*winner)->value;
}

}  // namespace kvmhub::auth
