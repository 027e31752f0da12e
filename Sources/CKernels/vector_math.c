// See include/ckernels.h. Every loop is branch-free so that clang vectorises it; CK_CLONES
// (clones.h) compiles each function once per instruction set and the widest the CPU supports
// runs.
#include "ckernels.h"
#include "clones.h"
#include <stdint.h>
#include <string.h>

// exp(x) = 2^n · exp(r), n = round(x / ln 2), r = x − n ln 2 (Cody–Waite, two parts of ln 2),
// exp(r) on |r| ≤ ln2/2 by Cephes' degree-6 polynomial.
static inline float ck_expf(float x) {
    // Clamped so that 2^n stays a normal float: n in [-126, 127].
    x = x < -87.33654f ? -87.33654f : x;
    x = x > 88.37626f ? 88.37626f : x;
    // Round to nearest with the 1.5·2^23 trick (no rintf: vectorises on every ISA).
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

CK_CLONES void ck_exp(float *out, const float *in, long n) {
    for (long i = 0; i < n; i++) out[i] = ck_expf(in[i]);
}

CK_CLONES void ck_softmax_row(float *row, long n) {
    // Maximum and sum over 16 lanes, combined in a fixed order: the result does not depend
    // on which copy runs (each lane sees the same elements in the same order).
    float m[16];
    for (int k = 0; k < 16; k++) m[k] = -3.402823466e38f;
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) m[k] = row[i + k] > m[k] ? row[i + k] : m[k];
    for (int k = 0; i + k < n; k++) m[k] = row[i + k] > m[k] ? row[i + k] : m[k];
    float mx = m[0];
    for (int k = 1; k < 16; k++) mx = m[k] > mx ? m[k] : mx;

    float s[16] = {0};
    i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) {
            float e = ck_expf(row[i + k] - mx);
            row[i + k] = e;
            s[k] += e;
        }
    for (int k = 0; i + k < n; k++) {
        float e = ck_expf(row[i + k] - mx);
        row[i + k] = e;
        s[k] += e;
    }
    float sum = 0;
    for (int k = 0; k < 16; k++) sum += s[k];
    float inv = 1.0f / sum;
    for (long j = 0; j < n; j++) row[j] *= inv;
}

CK_CLONES void ck_softmax_backward_row(float *d, const float *p, long n) {
#pragma clang fp contract(off)
    // Σ p·d over 16 lanes added in a fixed order, no FMA: every copy gives the same bits.
    float s[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) s[k] += p[i + k] * d[i + k];
    for (int k = 0; i + k < n; k++) s[k] += p[i + k] * d[i + k];
    float dot = 0;
    for (int k = 0; k < 16; k++) dot += s[k];
    for (long j = 0; j < n; j++) d[j] = p[j] * (d[j] - dot);
}

CK_CLONES void ck_quickgelu_forward(float *out, const float *in, long n) {
    for (long i = 0; i < n; i++) {
        float x = in[i];
        out[i] = x / (1.0f + ck_expf(-1.702f * x));
    }
}

static inline float ck_quickgelu_grad(float dy, float x) {
    float s = 1.0f / (1.0f + ck_expf(-1.702f * x));
    return dy * (s + 1.702f * x * s * (1.0f - s));
}

CK_CLONES void ck_quickgelu_backward(float *dinp, const float *dout, const float *in, long n, int accumulate) {
    if (accumulate) for (long i = 0; i < n; i++) dinp[i] += ck_quickgelu_grad(dout[i], in[i]);
    else for (long i = 0; i < n; i++) dinp[i] = ck_quickgelu_grad(dout[i], in[i]);
}

// The resolver prefers the clones in the order given above; this mirrors its choice.
const char *ck_isa(void) {
#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2, FMA)";
#endif
    return "baseline";
}
