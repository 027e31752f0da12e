// oneDNN matmul behind a BLAS-style call, with a cache of primitives keyed by the call's
// signature. oneDNN's C API, version 2.6 (dnnl_matmul_desc_init and friends).
#include "cdnnl_matmul.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <cpuid.h>
#include <time.h>

void omp_set_num_threads(int num_threads);

typedef struct {
    int64_t M, N, K, lda, ldb, ldc;
    int64_t batch1, batch2;              // 1, 1 for a single product (a 2-D primitive)
    int64_t sA1, sA2, sB1, sB2, sC1, sC2;  // batched: element strides between the products
    uint32_t alpha, beta;
    int32_t transA, transB, bf16, bias, threads, used;
} key_t_;

// A bf16 B layout the conversion can write straight from fp32 (no dense copy, no reorder):
// K padded to a multiple of 2·kp and N to one of nb, cut into blocks of (2·kp) × nb values, block
// (i, j) starting at i·sK + j·sN elements; inside a block, the pair of rows (2p, 2p + 1) of
// column n is the two bf16 values at (p·nb + n)·2 (oneDNN's "16a64b2a" for kp 16, nb 64).
typedef struct { int64_t kp, nb, paddedK, paddedN, sK, sN; int on; } pack_t;

typedef struct {
    key_t_ key;
    dnnl_primitive_t mm;                 // the matmul
    dnnl_memory_t a, b, c, bias;         // the matmul's arguments (handles set per call)
    dnnl_primitive_t packB;              // bf16: dense bf16 B -> the primitive's own layout
    dnnl_memory_t bDense;                // bf16: the dense bf16 B (source of packB)
    size_t bytesBDense;
    size_t bytesA, bytesB;               // bf16: dense bf16 buffer sizes
    pack_t pack;                         // bf16: B's layout when the conversion writes it directly
    uint64_t calls, nanoseconds;         // CLIPOOD_GEMM_PROFILE: time spent in this primitive
    char impl[32];                       // the implementation oneDNN chose
} entry_t;

#define CACHE_SIZE 512
static entry_t cache[CACHE_SIZE];
static int cache_count;
static uint64_t builds, resets;   // primitives created, and times the full cache was emptied
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int engine_state;   // 0 not tried, 1 ready, -1 failed
static int n_threads = 1;
static void *scratchA, *scratchB, *scratchB2;
static size_t scratchA_size, scratchB_size, scratchB2_size;
static char last_impl[128];

static int ensure_engine(void) {
    if (engine_state == 0) {
        engine_state = -1;
        if (dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success &&
            dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) == dnnl_success)
            engine_state = 1;
    }
    return engine_state == 1;
}

static void destroy_entry(entry_t *e) {
    if (e->mm) dnnl_primitive_destroy(e->mm);
    if (e->packB) dnnl_primitive_destroy(e->packB);
    dnnl_memory_t ms[5] = {e->a, e->b, e->c, e->bias, e->bDense};
    for (int i = 0; i < 5; i++) if (ms[i]) dnnl_memory_destroy(ms[i]);
    memset(e, 0, sizeof *e);
}

static uint64_t hash_key(const key_t_ *k) {
    const uint64_t *w = (const uint64_t *)k;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < sizeof(key_t_) / 8; i++) { h ^= w[i]; h *= 1099511628211ULL; h ^= h >> 29; }
    return h;
}

// Logical (rows, cols) matrix stored row-major with row stride ld, or, when trans, the
// transpose of a (cols, rows) row-major matrix with row stride ld.
static dnnl_status_t strided_desc(dnnl_memory_desc_t *d, int64_t rows, int64_t cols, int trans, int64_t ld,
                                  dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides;
    if (trans) { strides[0] = 1; strides[1] = ld; } else { strides[0] = ld; strides[1] = 1; }
    return dnnl_memory_desc_init_by_strides(d, 2, dims, dt, strides);
}

// The same for a (batch1, batch2) grid of such matrices, product (i, j) starting i·s1 + j·s2
// elements in: a 4-D descriptor, or the 2-D one when the key is a single product.
static dnnl_status_t operand_desc(dnnl_memory_desc_t *d, const key_t_ *k, int64_t rows, int64_t cols, int trans,
                                  int64_t ld, int64_t s1, int64_t s2, dnnl_data_type_t dt) {
    if (k->batch1 == 1 && k->batch2 == 1) return strided_desc(d, rows, cols, trans, ld, dt);
    dnnl_dims_t dims = {k->batch1, k->batch2, rows, cols};
    dnnl_dims_t strides = {s1, s2, trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(d, 4, dims, dt, strides);
}

// The CPU's vendor is AMD (cpuid leaf 0: "AuthenticAMD").
static int cpu_is_amd(void) {
    static int amd = -1;
    if (amd < 0) {
        unsigned a, b, c, d;
        amd = __get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;
    }
    return amd;
}

#define TRY(x) do { st = (x); if (st != dnnl_success) goto fail; } while (0)

static dnnl_status_t make_reorder(dnnl_primitive_t *p, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst) {
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, src, engine, dst, engine, NULL);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_create(p, pd);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

// Whether the CPU converts to bf16 natively (cdm_cpu_has_bf16, asked once).
static int native_bf16(void) {
    static int native = -1;
    if (native < 0) native = cdm_cpu_has_bf16();
    return native;
}

// Whether the conversion can write B in the primitive's layout `w` itself: a plain (K, N) B and
// the blocked layout pack_t describes, on a CPU with native bf16 conversion. A transposed B (a
// weight in the forward) is left to a dense copy and oneDNN's reorder: a conversion that read
// 16 stored rows at a time and transposed them in registers gave the same bits but ran the
// forward products about 7 % slower on an AMD EPYC Zen 4 (the reorder is the faster transpose).
// CLIPOOD_DNNL_REORDER=1 leaves every B to the reorder, for comparisons.
static pack_t packable(const dnnl_memory_desc_t *w, const key_t_ *k) {
    pack_t p = {0};
    const char *v = getenv("CLIPOOD_DNNL_REORDER");
    if (!native_bf16() || k->transB || (v && *v && strcmp(v, "0") != 0)) return p;
    if (w->ndims != 2 || w->format_kind != dnnl_blocked || w->offset0 != 0) return p;
    const dnnl_blocking_desc_t *bl = &w->format_desc.blocking;
    if (bl->inner_nblks != 3 || bl->inner_blks[2] != 2 || bl->inner_idxs[0] != 0 || bl->inner_idxs[1] != 1 ||
        bl->inner_idxs[2] != 0 || bl->inner_blks[1] % 16 != 0)
        return p;
    int64_t kp = bl->inner_blks[0], nb = bl->inner_blks[1];
    int64_t pk = w->padded_dims[0], pn = w->padded_dims[1];
    if (pk % (2 * kp) || pn % nb || pk < k->K || pn < k->N) return p;
    int64_t block = 2 * kp * nb;
    if (bl->strides[0] % block || bl->strides[1] % block) return p;
    // The blocks must tile the buffer exactly: every one inside it, none overlapping.
    int64_t blocksK = pk / (2 * kp), blocksN = pn / nb;
    int kOuter = bl->strides[0] == block && bl->strides[1] == blocksK * block;
    int nOuter = bl->strides[1] == block && bl->strides[0] == blocksN * block;
    if (!kOuter && !nOuter) return p;
    if ((size_t)(blocksK * blocksN * block) * 2 != dnnl_memory_desc_get_size(w)) return p;
    p.kp = kp; p.nb = nb; p.paddedK = pk; p.paddedN = pn; p.sK = bl->strides[0]; p.sN = bl->strides[1]; p.on = 1;
    return p;
}

static dnnl_status_t build(entry_t *e, const key_t_ *k) {
    dnnl_status_t st;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    memset(e, 0, sizeof *e);
    e->key = *k;
    dnnl_memory_desc_t a, b, c, bias, bDense;
    dnnl_data_type_t dt = k->bf16 ? dnnl_bf16 : dnnl_f32;
    if (k->bf16) {
        // The operands are converted into dense bf16 copies in their own storage order.
        TRY(strided_desc(&a, k->M, k->K, k->transA, k->transA ? k->M : k->K, dnnl_bf16));
        // B goes in the layout the primitive prefers (format any): with a plain B, oneDNN 2.6's
        // bf16 kernels repack it again and again inside the call. B is converted straight into
        // that layout where `packable` says so, else through a dense copy and oneDNN's reorder.
        // (On an AMD EPYC Zen 4 the reorder of a 1800 × 3072 B took 5 ms of a 28 ms product.)
        TRY(strided_desc(&bDense, k->K, k->N, k->transB, k->transB ? k->K : k->N, dnnl_bf16));
        dnnl_dims_t bd = {k->K, k->N};
        TRY(dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_bf16, dnnl_format_tag_any));
        e->bytesA = (size_t)(k->M * k->K) * 2;
        e->bytesBDense = (size_t)(k->K * k->N) * 2;
    } else {
        TRY(operand_desc(&a, k, k->M, k->K, k->transA, k->lda, k->sA1, k->sA2, dt));
        TRY(operand_desc(&b, k, k->K, k->N, k->transB, k->ldb, k->sB1, k->sB2, dt));
    }
    TRY(operand_desc(&c, k, k->M, k->N, 0, k->ldc, k->sC1, k->sC2, dnnl_f32));
    if (k->bias) {
        dnnl_dims_t bd = {1, k->N};
        TRY(dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab));
    }
    dnnl_matmul_desc_t md;
    TRY(dnnl_matmul_desc_init(&md, &a, &b, k->bias ? &bias : NULL, &c));
    TRY(dnnl_primitive_attr_create(&attr));
    float alpha, beta;
    memcpy(&alpha, &k->alpha, 4);
    memcpy(&beta, &k->beta, 4);
    if (alpha != 1.0f) TRY(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha));
    if (beta != 0.0f) {
        TRY(dnnl_post_ops_create(&ops));
        TRY(dnnl_post_ops_append_sum(ops, beta));
        TRY(dnnl_primitive_attr_set_post_ops(attr, ops));
    }
    // Which of oneDNN's implementations runs the product. fp32: its jit GEMM ("gemm:jit"), which
    // oneDNN 2.6 ranks below brgemm, except on AMD for single products with a transposed B
    // (the fully connected layers' forward), which run oneDNN's own choice (brgemm). Measured
    // on the towers' shapes, 2 threads: on an Intel Xeon (family 6 model 207) gemm:jit was as
    // fast or faster everywhere, and 2.3x faster where B is (K, N) with N = 3072 (the MLP's
    // backward products: brgemm 100-135 GFLOPS, gemm:jit 270-310); on an AMD EPYC (Zen 4)
    // brgemm ran the forward products at 190-205 GFLOPS where gemm:jit ran 130-190, and the
    // backward (K, 3072) one at 137 where gemm:jit ran 179. bf16: oneDNN's own choice.
    // CLIPOOD_DNNL_IMPL=PREFIX overrides both (profiling: the first implementation whose name
    // starts with PREFIX, else oneDNN's choice). The choice depends only on the call's signature
    // and the CPU, never on timing, so results stay deterministic.
    const char *want = getenv("CLIPOOD_DNNL_IMPL");
    int single = k->batch1 == 1 && k->batch2 == 1;
    if (!(want && *want) && !k->bf16 && !(cpu_is_amd() && k->transB && !k->transA && single)) want = "gemm:jit";
    if (want && *want) {
        dnnl_primitive_desc_iterator_t it;
        TRY(dnnl_primitive_desc_iterator_create(&it, &md, attr, engine, NULL));
        do {
            dnnl_primitive_desc_t cand = dnnl_primitive_desc_iterator_fetch(it);
            const char *name = "";
            dnnl_primitive_desc_query(cand, dnnl_query_impl_info_str, 0, &name);
            if (name && strncmp(name, want, strlen(want)) == 0) { pd = cand; break; }
            dnnl_primitive_desc_destroy(cand);
        } while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
        dnnl_primitive_desc_iterator_destroy(it);
    }
    if (!pd) TRY(dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL));
    const char *impl = "";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl) {
        strncpy(last_impl, impl, sizeof last_impl - 1);
        last_impl[sizeof last_impl - 1] = 0;
        strncpy(e->impl, impl, sizeof e->impl - 1);
    }
    TRY(dnnl_primitive_create(&e->mm, pd));
    if (k->bf16) {
        const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        if (!w) { st = dnnl_runtime_error; goto fail; }
        b = *w;
        e->bytesB = dnnl_memory_desc_get_size(&b);
        e->pack = packable(&b, k);
        if (!e->pack.on) {
            TRY(make_reorder(&e->packB, &bDense, &b));
            TRY(dnnl_memory_create(&e->bDense, &bDense, engine, DNNL_MEMORY_NONE));
        }
    }
    TRY(dnnl_memory_create(&e->a, &a, engine, DNNL_MEMORY_NONE));
    TRY(dnnl_memory_create(&e->b, &b, engine, DNNL_MEMORY_NONE));
    TRY(dnnl_memory_create(&e->c, &c, engine, DNNL_MEMORY_NONE));
    if (k->bias) TRY(dnnl_memory_create(&e->bias, &bias, engine, DNNL_MEMORY_NONE));
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (ops) dnnl_post_ops_destroy(ops);
    if (st != dnnl_success) destroy_entry(e);
    return st;
}

static entry_t *lookup(const key_t_ *k, dnnl_status_t *status) {
    uint64_t h = hash_key(k);
    for (int probe = 0; probe < CACHE_SIZE; probe++) {
        entry_t *e = &cache[(h + probe) % CACHE_SIZE];
        if (!e->key.used) {
            if (cache_count >= CACHE_SIZE * 3 / 4) {   // full: start over
                for (int i = 0; i < CACHE_SIZE; i++) if (cache[i].key.used) destroy_entry(&cache[i]);
                cache_count = 0;
                resets++;
                e = &cache[h % CACHE_SIZE];
            }
            builds++;
            *status = build(e, k);
            if (*status != dnnl_success) return NULL;
            cache_count++;
            return e;
        }
        if (memcmp(&e->key, k, sizeof *k) == 0) return e;
    }
    *status = dnnl_out_of_memory;
    return NULL;
}

static int grow(void **buf, size_t *size, size_t need) {
    if (*size >= need) return 1;
    free(*buf);
    size_t n = (need + 4095) / 4096 * 4096;
    *buf = aligned_alloc(64, n);
    *size = *buf ? n : 0;
    return *buf != NULL;
}

// fp32 -> bf16, round to nearest even (NaN stays a quiet NaN).
static inline uint16_t bf16_of(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

// Rows r0..<r1 of cols values (source row stride ld, destination row stride ldd) to bf16.
static void rows_to_bf16_scalar(uint16_t *dst, const float *src, int64_t r0, int64_t r1, int64_t cols, int64_t ld,
                                int64_t ldd) {
    for (int64_t r = r0; r < r1; r++)
        for (int64_t c = 0; c < cols; c++) dst[r * ldd + c] = bf16_of(src[r * ld + c]);
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f,avx512bf16,avx512vl,avx512bw")))
static void rows_to_bf16_avx512(uint16_t *dst, const float *src, int64_t r0, int64_t r1, int64_t cols, int64_t ld,
                                int64_t ldd) {
    for (int64_t r = r0; r < r1; r++) {
        const float *s = src + r * ld;
        uint16_t *d = dst + r * ldd;
        int64_t c = 0;
        for (; c + 32 <= cols; c += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + c + 16), _mm512_loadu_ps(s + c));
            _mm512_storeu_si512((void *)(d + c), (__m512i)v);
        }
        for (; c < cols; c++) {
            __m128bh one = _mm_cvtneps_pbh(_mm_set1_ps(s[c]));
            uint16_t h;
            memcpy(&h, &one, 2);
            d[c] = h;
        }
    }
}
#endif

#if defined(__x86_64__)
// Rows-blocks [i0, i1) of a plain (K, N) fp32 B, row stride ld, into the blocked bf16 layout
// `p` describes; padding (rows past K, columns past N) becomes 0.
__attribute__((target("avx512f,avx512bf16,avx512vl,avx512bw")))
static void pack_rows_avx512(uint16_t *dst, const float *src, int64_t K, int64_t N, int64_t ld, const pack_t *p,
                             int64_t i0, int64_t i1) {
    const int64_t kp = p->kp, nb = p->nb;
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = 0; j < p->paddedN / nb; j++) {
            uint32_t *blk = (uint32_t *)(dst + i * p->sK + j * p->sN);
            for (int64_t q = 0; q < kp; q++) {
                int64_t r0 = i * 2 * kp + 2 * q, r1 = r0 + 1;
                uint32_t *out = blk + q * nb;
                const float *s0 = src + r0 * ld, *s1 = src + r1 * ld;
                for (int64_t n = 0; n < nb; n += 16) {
                    int64_t col = j * nb + n;
                    __m512i lo, hi;
                    if (r1 < K && col + 16 <= N) {
                        lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s0 + col)));
                        hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s1 + col)));
                    } else {
                        // Edge: only the values inside (K, N), the rest 0 (masked loads).
                        int64_t valid = N - col < 0 ? 0 : N - col > 16 ? 16 : N - col;
                        __mmask16 m = (__mmask16)((1u << valid) - 1u);
                        __m512 z = _mm512_setzero_ps();
                        lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(r0 < K ? _mm512_maskz_loadu_ps(m, s0 + col) : z));
                        hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(r1 < K ? _mm512_maskz_loadu_ps(m, s1 + col) : z));
                    }
                    _mm512_storeu_si512((void *)(out + n), _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
                }
            }
        }
}

#endif

// rows_to_bf16_avx512 where the CPU converts natively, else the scalar loop.
static void rows_to_bf16(uint16_t *dst, const float *src, int64_t r0, int64_t r1, int64_t cols, int64_t ld, int64_t ldd) {
#if defined(__x86_64__)
    if (native_bf16()) { rows_to_bf16_avx512(dst, src, r0, r1, cols, ld, ldd); return; }
#endif
    rows_to_bf16_scalar(dst, src, r0, r1, cols, ld, ldd);
}

// One operand to convert: rows x cols fp32 with row stride ld -> dense bf16 or, with `pack`,
// a plain (rows = K, cols = N) B into the primitive's blocked layout.
typedef struct { uint16_t *dst; const float *src; int64_t rows, cols, ld; const pack_t *pack; } operand_t;
typedef struct { operand_t op[2]; int parts; } conv_t;

// Part k of `parts` converts its share of the rows (or of the row blocks) of both operands.
static void conv_part(void *p, int k) {
    conv_t *t = (conv_t *)p;
    for (int i = 0; i < 2; i++) {
        const operand_t *o = &t->op[i];
#if defined(__x86_64__)
        if (o->pack) {   // only ever set where the CPU converts natively
            int64_t blocks = o->pack->paddedK / (2 * o->pack->kp), i0 = blocks * k / t->parts, i1 = blocks * (k + 1) / t->parts;
            pack_rows_avx512(o->dst, o->src, o->rows, o->cols, o->ld, o->pack, i0, i1);
            continue;
        }
#endif
        rows_to_bf16(o->dst, o->src, o->rows * k / t->parts, o->rows * (k + 1) / t->parts, o->cols, o->ld, o->cols);
    }
}

// Both operands of a product to bf16 in one parallel region, rows split over the threads
// (a region per operand cost a barrier each).
static void operands_to_bf16(operand_t a, operand_t b) {
    int parts = n_threads;
    conv_t t = {{a, b}, parts};
    cdm_parallel(parts, conv_part, &t);
}

// CLIPOOD_GEMM_PROFILE=1: every primitive's calls and time, printed to standard error at exit,
// slowest first (what a profile of a training step needs: which products, at what speed).
static int profile_state = -1;
static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
static int by_time(const void *x, const void *y) {
    const entry_t *a = *(entry_t *const *)x, *b = *(entry_t *const *)y;
    return a->nanoseconds < b->nanoseconds ? 1 : a->nanoseconds > b->nanoseconds ? -1 : 0;
}
static void print_profile(void) {
    entry_t *list[CACHE_SIZE];
    int n = 0;
    uint64_t total = 0;
    for (int i = 0; i < CACHE_SIZE; i++)
        if (cache[i].key.used && cache[i].calls) { list[n++] = &cache[i]; total += cache[i].nanoseconds; }
    qsort(list, (size_t)n, sizeof list[0], by_time);
    fprintf(stderr, "oneDNN products: %.3f s in %d primitives (%llu created, cache emptied %llu times)\n",
            total / 1e9, n, (unsigned long long)builds, (unsigned long long)resets);
    fprintf(stderr, "%9s %7s %10s  %-6s %6s %6s %6s %8s  %s\n", "seconds", "calls", "GFLOPS", "op", "M", "N", "K", "batch",
            "lda ldb ldc beta bias bf16 impl");
    for (int i = 0; i < n; i++) {
        const key_t_ *k = &list[i]->key;
        float beta;
        memcpy(&beta, &k->beta, 4);
        double flops = 2.0 * (double)k->M * (double)k->N * (double)k->K * (double)(k->batch1 * k->batch2) *
                       (double)list[i]->calls;
        fprintf(stderr, "%9.3f %7llu %10.1f  %c%c     %6lld %6lld %6lld %8lld  %lld %lld %lld %g %d %d %s\n",
                list[i]->nanoseconds / 1e9, (unsigned long long)list[i]->calls,
                flops / (double)(list[i]->nanoseconds ? list[i]->nanoseconds : 1),
                k->transA ? 'T' : 'N', k->transB ? 'T' : 'N', (long long)k->M, (long long)k->N, (long long)k->K,
                (long long)(k->batch1 * k->batch2), (long long)k->lda, (long long)k->ldb, (long long)k->ldc, beta, k->bias, k->bf16, list[i]->impl);
    }
}

// Entry e's product. bf16: the operands are converted here (both in one parallel region), except
// A when aBF16 already holds it as a dense bf16 copy. Called with the lock held.
static dnnl_status_t execute(entry_t *e, const key_t_ *k, const float *A, const void *aBF16, const float *B,
                             const float *bias, float *C) {
    dnnl_status_t st = dnnl_success;
    if (k->bf16) {
        if ((!aBF16 && !grow(&scratchA, &scratchA_size, e->bytesA)) || !grow(&scratchB, &scratchB_size, e->bytesB) ||
            (!e->pack.on && !grow(&scratchB2, &scratchB2_size, e->bytesBDense)))
            return dnnl_out_of_memory;
        // Stored as rows x cols with row stride ld: A is (K, M) when transposed, else (M, K);
        // none of it when aBF16 holds it already.
        operand_t a = {(uint16_t *)scratchA, A, aBF16 ? 0 : k->transA ? k->K : k->M, k->transA ? k->M : k->K, k->lda, NULL};
        TRY(dnnl_memory_set_data_handle_v2(e->a, aBF16 ? (void *)aBF16 : scratchA, stream));
        if (e->pack.on) {   // B straight into the primitive's layout
            operand_t b = {(uint16_t *)scratchB, B, k->K, k->N, k->ldb, &e->pack};
            operands_to_bf16(a, b);
            TRY(dnnl_memory_set_data_handle_v2(e->b, scratchB, stream));
        } else {
            operand_t b = {(uint16_t *)scratchB2, B, k->transB ? k->N : k->K, k->transB ? k->K : k->N, k->ldb, NULL};
            operands_to_bf16(a, b);
            TRY(dnnl_memory_set_data_handle_v2(e->bDense, scratchB2, stream));
            TRY(dnnl_memory_set_data_handle_v2(e->b, scratchB, stream));
            dnnl_exec_arg_t rb[2] = {{DNNL_ARG_FROM, e->bDense}, {DNNL_ARG_TO, e->b}};
            TRY(dnnl_primitive_execute(e->packB, stream, 2, rb));
        }
    } else {
        TRY(dnnl_memory_set_data_handle_v2(e->a, (void *)A, stream));
        TRY(dnnl_memory_set_data_handle_v2(e->b, (void *)B, stream));
    }
    TRY(dnnl_memory_set_data_handle_v2(e->c, C, stream));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}, {DNNL_ARG_BIAS, e->bias}};
    if (e->bias) TRY(dnnl_memory_set_data_handle_v2(e->bias, (void *)bias, stream));
    TRY(dnnl_primitive_execute(e->mm, stream, e->bias ? 4 : 3, args));
    TRY(dnnl_stream_wait(stream));
fail:
    return st;
}

// Takes the lock and readies the engine, the thread count and the profile; 0 if the engine failed.
static int begin(void) {
    pthread_mutex_lock(&lock);
    if (!ensure_engine()) { pthread_mutex_unlock(&lock); return 0; }
    omp_set_num_threads(n_threads);
    if (profile_state < 0) {
        const char *v = getenv("CLIPOOD_GEMM_PROFILE");
        profile_state = v && *v && strcmp(v, "0") != 0;
        if (profile_state) atexit(print_profile);
    }
    return 1;
}

static void account(entry_t *e, uint64_t start) {
    if (profile_state) { e->calls++; e->nanoseconds += now_ns() - start; }
}

static int run(const key_t_ *k, const float *A, const float *B, const float *bias, float *C) {
    if (k->M == 0 || k->N == 0) return 0;
    if (!begin()) return dnnl_runtime_error;
    uint64_t start = profile_state ? now_ns() : 0;
    dnnl_status_t st = dnnl_success;
    entry_t *e = lookup(k, &st);
    if (e) {
        st = execute(e, k, A, NULL, B, bias, C);
        if (st == dnnl_success) account(e, start);
    }
    pthread_mutex_unlock(&lock);
    return st;
}

static key_t_ make_key(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                       int64_t lda, int64_t ldb, float beta, int64_t ldc, int bf16, int bias) {
    key_t_ k;
    memset(&k, 0, sizeof k);
    k.M = M; k.N = N; k.K = K; k.lda = lda; k.ldb = ldb; k.ldc = ldc;
    memcpy(&k.alpha, &alpha, 4);
    memcpy(&k.beta, &beta, 4);
    k.transA = transA != 0; k.transB = transB != 0; k.bf16 = bf16 != 0; k.bias = bias != 0;
    k.threads = n_threads;
    k.batch1 = k.batch2 = 1;
    k.used = 1;   // as stored: lookup compares whole keys
    return k;
}

// K = 0: C = beta · C (what BLAS does).
static void scale_only(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
}

int cdm_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
             const float *A, int64_t lda, const float *B, int64_t ldb,
             float beta, float *C, int64_t ldc, int bf16) {
    if (K == 0) { scale_only(M, N, beta, C, ldc); return 0; }
    key_t_ k = make_key(transA, transB, M, N, K, alpha, lda, ldb, beta, ldc, bf16, 0);
    return run(&k, A, B, NULL, C);
}

int cdm_gemm_batched(int64_t batch1, int64_t batch2, int transA, int transB, int64_t M, int64_t N, int64_t K,
                     float alpha, const float *A, int64_t lda, int64_t sA1, int64_t sA2,
                     const float *B, int64_t ldb, int64_t sB1, int64_t sB2,
                     float beta, float *C, int64_t ldc, int64_t sC1, int64_t sC2) {
    if (batch1 <= 0 || batch2 <= 0 || M == 0 || N == 0) return 0;
    if (K == 0) {
        for (int64_t i = 0; i < batch1; i++)
            for (int64_t j = 0; j < batch2; j++) scale_only(M, N, beta, C + i * sC1 + j * sC2, ldc);
        return 0;
    }
    // A single row of the grid: its stride is never used, but oneDNN's GEMM-based batched
    // matmul only accepts outer strides that could hold the inner dimension.
    if (batch1 == 1) { sA1 = sA2 * batch2; sB1 = sB2 * batch2; sC1 = sC2 * batch2; }
    key_t_ k = make_key(transA, transB, M, N, K, alpha, lda, ldb, beta, ldc, 0, 0);
    k.batch1 = batch1; k.batch2 = batch2;
    k.sA1 = sA1; k.sA2 = sA2; k.sB1 = sB1; k.sB2 = sB2; k.sC1 = sC1; k.sC2 = sC2;
    // Where oneDNN has only its reference implementation for the grid (hundreds of times
    // slower), the products run one primitive each.
    pthread_mutex_lock(&lock);
    dnnl_status_t st = dnnl_success;
    entry_t *e = ensure_engine() ? lookup(&k, &st) : NULL;
    int reference = e && strncmp(e->impl, "ref", 3) == 0;
    pthread_mutex_unlock(&lock);
    if (!reference) return run(&k, A, B, NULL, C);
    for (int64_t i = 0; i < batch1; i++)
        for (int64_t j = 0; j < batch2; j++) {
            int r = cdm_gemm(transA, transB, M, N, K, alpha, A + i * sA1 + j * sA2, lda, B + i * sB1 + j * sB2, ldb,
                             beta, C + i * sC1 + j * sC2, ldc, 0);
            if (r) return r;
        }
    return 0;
}

int cdm_linear(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *W,
               const float *bias, float beta, float *C, int64_t ldc, int bf16) {
    if (K == 0) {
        scale_only(M, N, beta, C, ldc);
        if (bias) for (int64_t i = 0; i < M; i++) for (int64_t j = 0; j < N; j++) C[i * ldc + j] += bias[j];
        return 0;
    }
    key_t_ k = make_key(0, 1, M, N, K, 1.0f, lda, K, beta, ldc, bf16, bias != NULL);
    return run(&k, A, W, bias, C);
}

// dout (N, OC) to a dense bf16 copy, columns split over the parts, each part adding its columns
// to dbias row after row (the order ck_add_column_sums uses, so the same bits).
typedef struct { uint16_t *dst; const float *dout; float *dbias; int64_t N, OC; int parts; } dout_t;

static void dout_part(void *p, int k) {
    dout_t *t = (dout_t *)p;
    int64_t c0 = t->OC * k / t->parts, c1 = t->OC * (k + 1) / t->parts;
    for (int64_t r = 0; r < t->N; r++) {
        const float *row = t->dout + r * t->OC;
        rows_to_bf16(t->dst + r * t->OC + c0, row + c0, 0, 1, c1 - c0, 0, 0);
        if (t->dbias) {
            float *restrict db = t->dbias;
            for (int64_t c = c0; c < c1; c++) db[c] += row[c];
        }
    }
}

int cdm_linear_backward_bf16(int64_t N, int64_t C, int64_t OC, const float *dout, const float *inp, const float *W,
                             float *dinp, int accumulate, float *dweight, float *dbias) {
    if (N <= 0 || C <= 0 || OC <= 0) return dnnl_invalid_arguments;
    if (!begin()) return dnnl_runtime_error;
    uint64_t start = profile_state ? now_ns() : 0;
    dnnl_status_t st = dnnl_success;
    // dinp (N, C) = dout (N, OC) · W (OC, C), and dweight (OC, C) += doutᵀ · inp (N, C): both
    // products read dout as a dense (N, OC) bf16 matrix, the second as its transpose.
    key_t_ kIn = make_key(0, 0, N, C, OC, 1.0f, OC, C, accumulate ? 1.0f : 0.0f, C, 1, 0);
    key_t_ kW = make_key(1, 0, OC, C, N, 1.0f, OC, C, 1.0f, C, 1, 0);
    uint64_t resetsBefore = resets;
    entry_t *eIn = lookup(&kIn, &st), *eW = eIn ? lookup(&kW, &st) : NULL;
    if (eW && resets != resetsBefore) eIn = lookup(&kIn, &st);   // the second lookup emptied the cache
    if (!eIn || !eW) goto fail;
    if (!grow(&scratchA, &scratchA_size, (size_t)(N * OC) * 2)) { st = dnnl_out_of_memory; goto fail; }
    dout_t t = {(uint16_t *)scratchA, dout, dbias, N, OC, n_threads};
    cdm_parallel(n_threads, dout_part, &t);
    TRY(execute(eIn, &kIn, NULL, scratchA, W, NULL, dinp));
    account(eIn, start);
    start = profile_state ? now_ns() : 0;
    TRY(execute(eW, &kW, NULL, scratchA, inp, NULL, dweight));
    account(eW, start);
fail:
    pthread_mutex_unlock(&lock);
    return st;
}

void cdm_set_threads(int threads) {
    pthread_mutex_lock(&lock);
    n_threads = threads < 1 ? 1 : threads;
    pthread_mutex_unlock(&lock);
}

int cdm_cpu_has_bf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;       // OSXSAVE
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    int zmm = (lo & 0xE6) == 0xE6;                                            // XMM, YMM, opmask, ZMM state
    int amx = (lo & (3u << 17)) == (3u << 17);                                // XTILECFG, XTILEDATA
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int avx512f = (b >> 16) & 1, amx_bf16 = (d >> 22) & 1;
    unsigned max7 = a;
    int avx512_bf16 = 0;
    if (max7 >= 1) { __cpuid_count(7, 1, a, b, c, d); avx512_bf16 = (a >> 5) & 1; }
    return (zmm && avx512f && avx512_bf16) || (amx && amx_bf16);
}

int cdm_version(char *buffer, size_t size) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(buffer, size, "%d.%d.%d", v->major, v->minor, v->patch);
    pthread_mutex_lock(&lock);
    int ok = ensure_engine();
    pthread_mutex_unlock(&lock);
    return ok;
}

const char *cdm_last_impl(void) { return last_impl; }

void cdm_clear_cache(void) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < CACHE_SIZE; i++) if (cache[i].key.used) destroy_entry(&cache[i]);
    cache_count = 0;
    pthread_mutex_unlock(&lock);
}

void cdm_small_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0) for (int64_t j = 0; j < N; j++) c[j] = 0;
        else if (beta != 1) for (int64_t j = 0; j < N; j++) c[j] *= beta;
        for (int64_t k = 0; k < K; k++) {
            float a = alpha * (transA ? A[k * lda + i] : A[i * lda + k]);
            if (transB) { for (int64_t j = 0; j < N; j++) c[j] += a * B[j * ldb + k]; }
            else { const float *b = B + k * ldb; for (int64_t j = 0; j < N; j++) c[j] += a * b[j]; }
        }
    }
}

// libgomp's entry point for `#pragma omp parallel` (its stable ABI): fn(data) on num_threads
// threads, the caller being thread 0.
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
int omp_get_thread_num(void);
int omp_get_num_threads(void);

typedef struct { void (*body)(void *, int); void *context; int parts; } par_t;

static void par_thunk(void *p) {
    par_t *t = (par_t *)p;
    int n = omp_get_num_threads();   // fewer than asked for if OpenMP decided so
    for (int k = omp_get_thread_num(); k < t->parts; k += n) t->body(t->context, k);
}

void cdm_parallel(int parts, void (*body)(void *context, int k), void *context) {
    if (parts <= 1) { if (parts == 1) body(context, 0); return; }
    par_t t = {body, context, parts};
    GOMP_parallel(par_thunk, &t, (unsigned)parts, 0);
}
