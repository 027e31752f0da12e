// The peak arithmetic rate of one core for the instructions clipood's products are made of:
// fp32 fused multiply-add (AVX2 and AVX-512) and the AVX512-BF16 dot product (vdpbf16ps, two
// bf16 products summed into each fp32 lane). Each loop keeps 12 independent accumulators, so
// throughput, not latency, bounds it. Built and run by scripts/cpu_peak; see docs/speed-onednn.md.
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

enum { CHAINS = 12 };
static const long ROUNDS = 20000000;

__attribute__((target("avx2,fma"))) static double fma256(void) {
    __m256 acc[CHAINS], x = _mm256_set1_ps(1.0001f), y = _mm256_set1_ps(0.9999f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    double t = seconds();
    for (long n = 0; n < ROUNDS; n++)
#pragma GCC unroll 12   // keeps the accumulators in registers
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(x, y, acc[i]);
    t = seconds() - t;
    __m256 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm256_add_ps(sum, acc[i]);   // every chain is used
    volatile float sink = sum[0]; (void)sink;
    return ROUNDS * CHAINS * 8.0 * 2 / t / 1e9;
}

__attribute__((target("avx512f"))) static double fma512(void) {
    __m512 acc[CHAINS], x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    double t = seconds();
    for (long n = 0; n < ROUNDS; n++)
#pragma GCC unroll 12   // keeps the accumulators in registers
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(x, y, acc[i]);
    t = seconds() - t;
    __m512 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);   // every chain is used
    volatile float sink = _mm512_reduce_add_ps(sum); (void)sink;
    return ROUNDS * CHAINS * 16.0 * 2 / t / 1e9;
}

__attribute__((target("avx512f,avx512bf16"))) static double dotbf16(void) {
    __m512 acc[CHAINS];
    __m512bh one = (__m512bh)_mm512_set1_epi16(0x3f80);   // bf16 1.0
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    double t = seconds();
    for (long n = 0; n < ROUNDS; n++)
#pragma GCC unroll 12   // keeps the accumulators in registers
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], one, one);
    t = seconds() - t;
    __m512 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);   // every chain is used
    volatile float sink = _mm512_reduce_add_ps(sum); (void)sink;
    return ROUNDS * CHAINS * 32.0 * 2 / t / 1e9;   // 32 bf16 products per instruction, each a multiply and an add
}

static double best(double (*f)(void)) {
    double b = 0;
    for (int r = 0; r < 5; r++) { double g = f(); if (g > b) b = g; }
    return b;
}

int main(void) {
    __builtin_cpu_init();
    printf("one core, best of 5, GFLOPS (multiply and add counted apart)\n");
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) printf("fp32 FMA, AVX2 (256-bit):      %6.1f\n", best(fma256));
    else printf("fp32 FMA, AVX2: not on this CPU\n");
    if (__builtin_cpu_supports("avx512f")) printf("fp32 FMA, AVX-512 (512-bit):   %6.1f\n", best(fma512));
    else printf("fp32 FMA, AVX-512: not on this CPU\n");
    if (__builtin_cpu_supports("avx512bf16")) printf("bf16 dot, AVX512-BF16:         %6.1f\n", best(dotbf16));
    else printf("bf16 dot, AVX512-BF16: not on this CPU (bf16 runs fp32 here)\n");
    return 0;
}
