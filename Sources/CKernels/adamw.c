// See include/ckernels.h. The same operations in the same order as PyTorch's AdamW step,
// one value at a time, with no contraction into FMA: every copy gives the same bits.
#include "ckernels.h"
#include "clones.h"
#include <math.h>

#pragma clang fp contract(off)

CK_CLONES void ck_adamw(float *restrict p, float *restrict m, float *restrict v, const float *restrict g, long n,
                        float decay, float beta1, float beta2, float stepSize, float bc2Sqrt, float eps) {
    const float a1 = 1.0f - beta1, a2 = 1.0f - beta2;
    for (long i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = m[i] + a1 * (gi - m[i]);
        float vi = beta2 * v[i] + a2 * gi * gi;
        float denom = sqrtf(vi) / bc2Sqrt + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - stepSize * mi / denom;
    }
}
