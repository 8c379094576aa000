// kvmhubd entry point (replaced by the real one as the daemon lands).
#include <cstdio>

int main() {
    std::puts("kvmhubd " KVMHUB_VERSION);
    return 0;
}
