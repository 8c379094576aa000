#include "support/slapd.hpp"

#include <filesystem>
#include <fstream>

#include "support/daemon.hpp"
#include "support/local.hpp"

namespace kvmhub::test {
namespace {

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
}

// A CA (key + self-signed certificate) named `name` in `dir`.
std::string make_ca(const TempDir& dir, const std::string& name) {
    auto made =
        run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                     "/CN=kvmhub test " + name, "-keyout", dir.file(name + ".key"), "-out", dir.file(name + ".pem")});
    return made.exit_code == 0 ? std::string() : "openssl req (" + name + "): " + made.output;
}

// The server's key and certificate for 127.0.0.1, signed by the CA "ca".
std::string make_server_cert(const TempDir& dir) {
    auto request = run_command({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
                                dir.file("server.key"), "-out", dir.file("server.csr")});
    if (request.exit_code != 0) return "openssl req (server): " + request.output;
    write_text(dir.file("server.ext"), "subjectAltName=IP:127.0.0.1\n");
    auto signed_cert = run_command({"openssl", "x509", "-req", "-days", "2", "-in", dir.file("server.csr"), "-CA",
                                    dir.file("ca.pem"), "-CAkey", dir.file("ca.key"), "-CAcreateserial", "-extfile",
                                    dir.file("server.ext"), "-out", dir.file("server.pem")});
    return signed_cert.exit_code == 0 ? std::string() : "openssl x509: " + signed_cert.output;
}

std::string config_text(const TempDir& dir) {
    std::string text;
    for (const char* schema : {"core", "cosine", "inetorgperson"})
        text += std::string("include /etc/ldap/schema/") + schema + ".schema\n";
    text += "pidfile " + dir.file("slapd.pid") + "\n";
    text += "modulepath /usr/lib/ldap\nmoduleload back_mdb\n";
    text += "TLSCACertificateFile " + dir.file("ca.pem") + "\n";
    text += "TLSCertificateFile " + dir.file("server.pem") + "\n";
    text += "TLSCertificateKeyFile " + dir.file("server.key") + "\n";
    text += "database mdb\nmaxsize 10485760\n";
    text += "suffix \"" + Slapd::suffix() + "\"\n";
    text += "rootdn \"cn=admin," + Slapd::suffix() + "\"\n";
    text += "directory " + dir.file("db") + "\n";
    return text;
}

std::string users_ldif(const std::vector<SlapdUser>& users) {
    std::string text = "dn: " + Slapd::suffix() +
                       "\nobjectClass: dcObject\nobjectClass: organization\no: kvmhub test\ndc: kvmhub\n\n"
                       "dn: " +
                       Slapd::people() + "\nobjectClass: organizationalUnit\nou: people\n\n";
    for (const SlapdUser& user : users) {
        text += "dn: uid=" + user.uid + "," + Slapd::people() + "\nobjectClass: inetOrgPerson\nuid: " + user.uid +
                "\ncn: " + user.uid + "\nsn: " + user.uid + "\nuserPassword: " + user.password + "\n\n";
    }
    return text;
}

}  // namespace

Slapd::Slapd(std::vector<SlapdUser> users) : ldap_port_(free_port()), ldaps_port_(free_port()) {
    for (const std::string& failed : {make_ca(dir_, "ca"), make_ca(dir_, "other-ca"), make_server_cert(dir_)}) {
        if (!failed.empty()) {
            error_ = failed;
            return;
        }
    }
    std::filesystem::create_directories(dir_.file("db"));
    write_text(dir_.file("slapd.conf"), config_text(dir_));
    write_text(dir_.file("users.ldif"), users_ldif(users));
    auto loaded = run_command({"/usr/sbin/slapadd", "-f", dir_.file("slapd.conf"), "-l", dir_.file("users.ldif")});
    if (loaded.exit_code != 0) {
        error_ = "slapadd: " + loaded.output;
        return;
    }
    const std::string urls = ldap_url() + "/ " + ldaps_url() + "/";
    // -d keeps it in the foreground (so this pid is slapd's); 256 logs every connection and bind.
    pid_ = start_server({"/usr/sbin/slapd", "-d", "256", "-h", urls, "-f", dir_.file("slapd.conf")},
                        dir_.file("slapd.log"));
    if (pid_ < 0) {
        error_ = "fork failed";
        return;
    }
    if (!eventually([&] { return log().find("slapd starting") != std::string::npos; }, std::chrono::seconds(20))) {
        error_ = "slapd did not start: " + log();
        stop();
    }
}

Slapd::~Slapd() {
    stop();
}

void Slapd::stop() {
    stop_server(pid_);
}

std::string Slapd::ldap_url() const {
    return "ldap://127.0.0.1:" + std::to_string(ldap_port_);
}

std::string Slapd::ldaps_url() const {
    return "ldaps://127.0.0.1:" + std::to_string(ldaps_port_);
}

std::string Slapd::log() const {
    return read_file(dir_.file("slapd.log"));
}

}  // namespace kvmhub::test
