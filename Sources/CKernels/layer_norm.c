// See include/ckernels.h. Row sums run over 16 lanes combined in a fixed order, so every copy
// (AVX-512, AVX2, baseline) gives the same bits; contraction into FMA is off for the same reason.
#include "ckernels.h"
#include "clones.h"
#include <math.h>

#pragma clang fp contract(off)

#define LANES 16

static inline float lane_total(const float s[LANES]) {
    float t = 0;
    for (int k = 0; k < LANES; k++) t += s[k];
    return t;
}

CK_CLONES void ck_layernorm_forward_row(float *restrict y, float *restrict mean, float *restrict rstd,
                                        const float *restrict x, const float *restrict w,
                                        const float *restrict b, long C, float eps) {
    float s[LANES] = {0};
    long i = 0;
    for (; i + LANES <= C; i += LANES)
        for (int k = 0; k < LANES; k++) s[k] += x[i + k];
    for (int k = 0; i + k < C; k++) s[k] += x[i + k];
    float m = lane_total(s) / (float)C;
    float q[LANES] = {0};
    i = 0;
    for (; i + LANES <= C; i += LANES)
        for (int k = 0; k < LANES; k++) { float d = x[i + k] - m; q[k] += d * d; }
    for (int k = 0; i + k < C; k++) { float d = x[i + k] - m; q[k] += d * d; }
    float r = 1.0f / sqrtf(lane_total(q) / (float)C + eps);
    for (long j = 0; j < C; j++) y[j] = (x[j] - m) * r * w[j] + b[j];
    *mean = m;
    *rstd = r;
}

CK_CLONES void ck_layernorm_backward_row(float *restrict dx, const float *restrict dy, const float *restrict x,
                                         const float *restrict w, float mean, float rstd, long C) {
    float gs[LANES] = {0}, gxs[LANES] = {0};
    long i = 0;
    for (; i + LANES <= C; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float xhat = (x[i + k] - mean) * rstd;
            float g = dy[i + k] * w[i + k];
            gs[k] += g;
            gxs[k] += g * xhat;
        }
    for (int k = 0; i + k < C; k++) {
        float xhat = (x[i + k] - mean) * rstd;
        float g = dy[i + k] * w[i + k];
        gs[k] += g;
        gxs[k] += g * xhat;
    }
    float gMean = lane_total(gs) / (float)C, gxMean = lane_total(gxs) / (float)C;
    for (long j = 0; j < C; j++) {
        float xhat = (x[j] - mean) * rstd;
        dx[j] += rstd * (dy[j] * w[j] - gMean - xhat * gxMean);
    }
}

CK_CLONES void ck_layernorm_param_grads(float *restrict dw, float *restrict db, const float *restrict dy,
                                        const float *restrict x, const float *restrict mean,
                                        const float *restrict rstd, long N, long C, long c0, long c1) {
    for (long n = 0; n < N; n++) {
        const float *xr = x + n * C, *dr = dy + n * C;
        float m = mean[n], r = rstd[n];
        if (db) for (long i = c0; i < c1; i++) db[i] += dr[i];
        if (dw) for (long i = c0; i < c1; i++) dw[i] += (xr[i] - m) * r * dr[i];
    }
}

CK_CLONES void ck_add_column_sums(float *restrict sums, const float *restrict rows, long N, long ld, long c0, long c1) {
    for (long n = 0; n < N; n++) {
        const float *r = rows + n * ld;
        for (long i = c0; i < c1; i++) sums[i] += r[i];
    }
}
