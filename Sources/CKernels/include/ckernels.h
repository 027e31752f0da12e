// Vectorised elementwise kernels (exp-based) for ClipoodEngine, in C so that the compiler
// makes AVX-512, AVX2+FMA and baseline copies and picks one at load time for the CPU.
#ifndef CKERNELS_H
#define CKERNELS_H

/// out[i] = exp(in[i]), relative error below 2e-7 on [-87.3, 88.3]; inputs are clamped to
/// that range (below it the result is ~1e-38 instead of a denormal or 0; above, ~2.5e38).
void ck_exp(float *out, const float *in, long n);

/// In-place softmax of row[0..<n]: max subtracted, exponentials, normalised to sum 1.
void ck_softmax_row(float *row, long n);

/// QuickGELU forward: out[i] = x / (1 + exp(-1.702 x)).
void ck_quickgelu_forward(float *out, const float *in, long n);

/// QuickGELU backward, accumulating: dinp[i] += dout[i] * (s + 1.702 x s (1 - s)), s = σ(1.702 x).
void ck_quickgelu_backward(float *dinp, const float *dout, const float *in, long n);

/// The instruction set of the copies that run on this CPU, e.g. "x86-64-v4 (AVX-512)".
const char *ck_isa(void);

#endif
