// CK_CLONES: the target_clones attribute that compiles a function three times (x86-64-v4:
// AVX-512; v3: AVX2 and FMA; the baseline), an ifunc resolver picking the widest the CPU
// supports at load. Private to CKernels' sources.
#ifndef CKERNELS_CLONES_H
#define CKERNELS_CLONES_H
#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define CK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CK_CLONES
#endif
#endif
