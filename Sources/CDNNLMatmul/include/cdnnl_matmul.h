#ifndef CDNNL_MATMUL_H
#define CDNNL_MATMUL_H

#include <stddef.h>
#include <stdint.h>

/// Row-major GEMM on oneDNN's matmul primitive, with the BLAS calling convention:
///   C(M,N) = alpha · op(A)(M,K) · op(B)(K,N) + beta · C
/// lda/ldb/ldc are row strides of the matrices as stored. With bf16 != 0 the inputs are rounded
/// to bfloat16 (round to nearest even) and the products accumulate in fp32; C stays fp32.
/// One primitive per distinct call signature (shape, strides, alpha, beta, precision, threads)
/// is created on first use and kept. Calls are serialised by a lock.
/// Returns 0, or a oneDNN status code (the call did nothing).
int cdm_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
             const float *A, int64_t lda, const float *B, int64_t ldb,
             float beta, float *C, int64_t ldc, int bf16);

/// A (batch1, batch2) grid of fp32 products in one primitive: product (i, j) is cdm_gemm's on
/// A + i·sA1 + j·sA2, B + i·sB1 + j·sB2 and C + i·sC1 + j·sC2 (element offsets), with the same
/// lda/ldb/ldc, alpha and beta. Attention's per-head products, all heads (and sequences) at once.
int cdm_gemm_batched(int64_t batch1, int64_t batch2, int transA, int transB, int64_t M, int64_t N, int64_t K,
                     float alpha, const float *A, int64_t lda, int64_t sA1, int64_t sA2,
                     const float *B, int64_t ldb, int64_t sB1, int64_t sB2,
                     float beta, float *C, int64_t ldc, int64_t sC1, int64_t sC2);

/// Like cdm_gemm with transA = 0, transB = 1, alpha = 1 (a fully connected layer's forward,
/// W stored (N, K) as PyTorch does), plus a per-column bias added in the epilogue when bias is
/// not NULL, and beta · C (beta 0 or 1) before it.
int cdm_linear(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *W,
               const float *bias, float beta, float *C, int64_t ldc, int bf16);

/// A fully connected layer's backward in bf16, dout converted once for both products:
///   dinp (N, C) = dout (N, OC) · W (OC, C), plus dinp when accumulate != 0;
///   dweight (OC, C) += doutᵀ · inp (N, C);  dbias (OC) += dout's column sums (rows in order), if not NULL.
/// The same bits as the two cdm_gemm calls and the column sums one at a time.
int cdm_linear_backward_bf16(int64_t N, int64_t C, int64_t OC, const float *dout, const float *inp, const float *W,
                             float *dinp, int accumulate, float *dweight, float *dbias);

/// Threads every following call uses (OpenMP's count for oneDNN, set on the calling thread
/// before each execution). At least 1.
void cdm_set_threads(int threads);

/// Whether this CPU has native bf16 dot products (AVX512-BF16 or AMX-BF16) and the OS saves
/// their registers.
int cdm_cpu_has_bf16(void);

/// oneDNN's version as "major.minor.patch", and 0 if its CPU engine could not be created.
int cdm_version(char *buffer, size_t size);

/// The implementation oneDNN chose for the last primitive created (for reports), or "".
const char *cdm_last_impl(void);

/// Drops every cached primitive (tests; memory).
void cdm_clear_cache(void);


/// C = alpha · op(A) · op(B) + beta · C on the calling thread, in plain loops (products too
/// small for a library call to pay). Same conventions as cdm_gemm.
void cdm_small_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc);

/// Runs body(context, k) for k in 0..<parts on the OpenMP threads oneDNN uses (parts of them
/// at once, k on thread k), so that the engine's own parallel loops and oneDNN's products
/// share one set of threads instead of two sets competing for the cores.
void cdm_parallel(int parts, void (*body)(void *context, int k), void *context);
#endif
