// Whether this machine can run KVM guests, tested rather than assumed: on nested or
// software-assisted setups /dev/kvm exists and answers but guests hang.
#pragma once

namespace kvmhub::virt {

// True when the CPU advertises hardware virtualization (vmx/svm), /dev/kvm opens, speaks
// API version 12 and creates a VM within 2 s. Probed once, then cached for the process.
bool local_kvm_usable();

}  // namespace kvmhub::virt
