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

// One timing function per instruction: CHAINS accumulators of type VEC start at SET1(i), each
// round applies STEP to every one (unrolled, so they stay in registers), and every chain is summed
// into the result so that the compiler keeps them all. FLOPS: per instruction, multiply and add
// counted apart.
#define PEAK(NAME, TARGET, VEC, SET1, ADD, FIRST, STEP, FLOPS)                       \
    __attribute__((target(TARGET))) static double NAME(void) {                        \
        VEC acc[CHAINS];                                                               \
        for (int i = 0; i < CHAINS; i++) acc[i] = SET1((float)i);                     \
        double t = seconds();                                                          \
        for (long n = 0; n < ROUNDS; n++)                                              \
            _Pragma("GCC unroll 12")                                                   \
            for (int i = 0; i < CHAINS; i++) acc[i] = STEP(acc[i]);                    \
        t = seconds() - t;                                                             \
        VEC sum = acc[0];                                                              \
        for (int i = 1; i < CHAINS; i++) sum = ADD(sum, acc[i]);                       \
        volatile float sink = FIRST(sum); (void)sink;                                  \
        return ROUNDS * CHAINS * (FLOPS) / t / 1e9;                                    \
    }

#define FMA256(a) _mm256_fmadd_ps(_mm256_set1_ps(1.0001f), _mm256_set1_ps(0.9999f), a)
#define FMA512(a) _mm512_fmadd_ps(_mm512_set1_ps(1.0001f), _mm512_set1_ps(0.9999f), a)
// bf16 1.0 in every half: 32 bf16 products per instruction, summed in pairs into 16 fp32 lanes.
#define DOTBF16(a) _mm512_dpbf16_ps(a, (__m512bh)_mm512_set1_epi16(0x3f80), (__m512bh)_mm512_set1_epi16(0x3f80))
#define FIRST256(v) _mm256_cvtss_f32(v)

PEAK(fma256, "avx2,fma", __m256, _mm256_set1_ps, _mm256_add_ps, FIRST256, FMA256, 8 * 2)
PEAK(fma512, "avx512f", __m512, _mm512_set1_ps, _mm512_add_ps, _mm512_reduce_add_ps, FMA512, 16 * 2)
PEAK(dotbf16, "avx512f,avx512bf16", __m512, _mm512_set1_ps, _mm512_add_ps, _mm512_reduce_add_ps, DOTBF16, 32 * 2)

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
