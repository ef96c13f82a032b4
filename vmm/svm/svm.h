/* The AMD-V backend (vmm/svm/svm.c). */
#ifndef TERN_SVM_H
#define TERN_SVM_H

#include "vmm/vcpu.h"

extern const struct vmm_backend svm_backend;

#endif
