// Vectorised kernels for ClipoodEngine and the optimiser (exp-based elementwise functions, layer
// norm rows, column sums, the AdamW step), in C so that the compiler makes AVX-512, AVX2+FMA and
// baseline copies and picks one at load time for the CPU.
#ifndef CKERNELS_H
#define CKERNELS_H

/// out[i] = exp(in[i]), relative error below 2e-7 on [-87.3, 88.3]; inputs are clamped to
/// that range (below it the result is ~1e-38 instead of a denormal or 0; above, ~2.5e38).
void ck_exp(float *out, const float *in, long n);

/// In-place softmax of row[0..<n]: max subtracted, exponentials, normalised to sum 1.
void ck_softmax_row(float *row, long n);

/// Softmax backward of one row in place: d[j] = p[j] · (d[j] − Σ p·d), p the softmax's output
/// and d the gradient of its output (the sum over 16 lanes in a fixed order).
void ck_softmax_backward_row(float *d, const float *p, long n);

/// QuickGELU forward: out[i] = x / (1 + exp(-1.702 x)).
void ck_quickgelu_forward(float *out, const float *in, long n);

/// QuickGELU backward: dinp[i] += dout[i] * (s + 1.702 x s (1 - s)), s = σ(1.702 x), or, with
/// accumulate 0, dinp[i] = that product.
void ck_quickgelu_backward(float *dinp, const float *dout, const float *in, long n, int accumulate);

/// Layer norm of one row of C values: mean and 1/√(variance + eps) (two passes, sums over 16
/// lanes in a fixed order), then y[j] = (x[j] − mean) · rstd · w[j] + b[j].
void ck_layernorm_forward_row(float *y, float *mean, float *rstd, const float *x, const float *w,
                              const float *b, long C, float eps);

/// Layer norm backward for one row, accumulating: dx[j] += rstd · (g[j] − mean(g) − x̂[j] · mean(g · x̂)),
/// g = dy · w, x̂ = (x − mean) · rstd.
void ck_layernorm_backward_row(float *dx, const float *dy, const float *x, const float *w,
                               float mean, float rstd, long C);

/// Layer norm's weight and bias gradients for columns c0..<c1, rows 0..<N in order,
/// accumulating: dw[i] += Σ x̂[n][i] · dy[n][i], db[i] += Σ dy[n][i]. Either may be NULL.
void ck_layernorm_param_grads(float *dw, float *db, const float *dy, const float *x, const float *mean,
                              const float *rstd, long N, long C, long c0, long c1);

/// sums[i] += Σ rows[n·ld + i] over n in 0..<N in order, for columns c0..<c1 (a bias gradient).
void ck_add_column_sums(float *sums, const float *rows, long N, long ld, long c0, long c1);

/// One AdamW step over n values, exactly as PyTorch orders it:
///   p ← p·decay ; m ← m + (1−β1)(g − m) ; v ← β2·v + (1−β2)·g·g ;
///   p ← p − stepSize·m / (√v / bc2Sqrt + eps).
void ck_adamw(float *p, float *m, float *v, const float *g, long n,
              float decay, float beta1, float beta2, float stepSize, float bc2Sqrt, float eps);

/// The instruction set of the copies that run on this CPU, e.g. "x86-64-v4 (AVX-512)".
const char *ck_isa(void);

#endif
