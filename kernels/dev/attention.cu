/* kernels/dev/attention.cu — lab for loom's flash attention (style.md, "Lab
 * file, then promoted kernel"). Variant 1 is kernels/cuda/attention_tile.cuh,
 * promoted as loom_cuda_attention / loom_cuda_attention_causal; this main
 * calls those entries, so it checks the argument handling too.
 *
 * For every case: inputs uniform in [-1, 1) (q ×3, as tests/ops/backend_cases.c)
 * rounded to f16; a CPU reference in double from the same rounded values;
 * relative L2 error against tol = 4 × the f16 output-rounding floor (the
 * backend-ops test's rule); no NaN/Inf; output poisoned with f16 NaN first and
 * 256 guard bytes each side checked. Then batch/tiling invariance (a sample
 * alone, and a prefix of the queries alone, must give the same bits), the
 * refusal paths, and timings (CUDA events, median) at SD's shapes.
 *
 * Variant 1 comes with MT = 1 or 2 query row tiles (16 rows each) per warp;
 * the big cases run both, launched directly, checked and timed. H200, nvcc
 * 13.0, 2026-11-27 (median of 20): B1 Sq4096 Sk4096 H8 D40: MT 1 0.137 ms,
 * MT 2 0.117 ms (torch SDPA 0.116 ms in the same run); H5 D64: MT 1 0.118,
 * MT 2 0.135; H8 Sq1024 D80: MT 1 0.025, MT 2 0.033. attention.cu takes
 * MT 2 for D 40 and MT 1 for the rest.
 *
 * Not in the default build. From the repository root:
 *   gcc -std=c11 -O2 -c kernels/loom_base.c -Ikernels -o /tmp/loom_base.o
 *   nvcc -std=c++17 -O3 -gencode arch=compute_90,code=sm_90 -Xcompiler -fopenmp -Ikernels -Ikernels/cuda \
 *        kernels/dev/attention.cu kernels/cuda/attention.cu kernels/cuda/attention_generic.cu \
 *        kernels/cuda/args.cu kernels/cuda/runtime.cu /tmp/loom_base.o -lgomp -ldl -o attn_lab
 *   ./attn_lab [--quick] [--reps N]      (--quick: small cases only, untimed: for compute-sanitizer) */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "attention_tile.cuh"

extern "C" {
#include "cuda_ops.h"
}

namespace {

struct lab_case {
    int b, sq, sk, heads, d, causal;
    const char *what;
    bool big;  /* skipped by --quick */
    int shift = 0; /* elements: q, k, v, o start this far past a 16-byte boundary */
};

const lab_case kCases[] = {
    /* tests/ops/backend_cases.c */
    {1, 4096, 4096, 8, 40, 0, "attn1 at 64x64, D 40", true},
    {2, 4096, 77, 8, 40, 0, "attn2 at 64x64, 77 keys", true},
    {1, 1024, 1024, 8, 80, 0, "attn1 at 32x32, D 80", true},
    {1, 256, 256, 8, 160, 0, "attn1 at 16x16, D 160", false},
    {1, 64, 64, 8, 160, 0, "attn1 at 8x8, D 160", false},
    {1, 4096, 4096, 5, 64, 0, "SD2.x attn1 at 64x64, D 64", true},
    {1, 77, 77, 12, 64, 1, "CLIP text self-attention (causal)", false},
    /* tails and edges */
    {1, 1, 1, 2, 40, 0, "one query, one key", false},
    {1, 100, 77, 3, 64, 0, "query and key tails", false},
    {2, 130, 130, 2, 80, 1, "causal, 3 key blocks", false},
    {1, 77, 200, 2, 160, 1, "causal, Sq < Sk", false},
    {1, 200, 50, 2, 40, 1, "causal, Sq > Sk", false},
    {3, 65, 33, 2, 160, 0, "D 160, key tail of 1", false},
    {1, 3, 4096, 1, 64, 0, "3 queries, 4096 keys", false},
    /* attention_generic.cu's share: other head dims, unaligned views */
    {2, 70, 77, 2, 48, 0, "generic: D 48", false},
    {1, 90, 90, 2, 40, 1, "generic: unaligned views, causal", false, 1},
};

uint32_t g_rng = 12345u;
float urand() /* uniform [-1, 1), xorshift32 */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return (float)(g_rng >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

int fails = 0;
#define LAB_CHECK(cond, ...)                                                                                   \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fails++;                                                                                           \
            printf("FAIL: ");                                                                                  \
            printf(__VA_ARGS__);                                                                               \
            printf("\n");                                                                                      \
        }                                                                                                      \
    } while (0)
#define CK(stmt)                                                                                               \
    do {                                                                                                       \
        cudaError_t e_ = (stmt);                                                                               \
        if (e_ != cudaSuccess) {                                                                               \
            printf("%s: %s\n", #stmt, cudaGetErrorString(e_));                                                 \
            exit(2);                                                                                           \
        }                                                                                                      \
    } while (0)

/* o[b, i, h·D + c] in double from f16-rounded f32 inputs; causal: keys j ≤ i */
void reference(const lab_case &c, const float *q, const float *k, const float *v, float *o)
{
    const int hd = c.heads * c.d;
    const double scale = 1.0 / std::sqrt((double)c.d);
#pragma omp parallel for collapse(2) schedule(dynamic, 4)
    for (int bh = 0; bh < c.b * c.heads; bh++)
        for (int i = 0; i < c.sq; i++) {
            const int b = bh / c.heads, h = bh % c.heads;
            const int lim = c.causal ? std::min(c.sk, i + 1) : c.sk;
            const float *qi = q + ((size_t)b * c.sq + i) * hd + (size_t)h * c.d;
            std::vector<double> s(lim), acc(c.d, 0.0);
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < lim; j++) {
                const float *kj = k + ((size_t)b * c.sk + j) * hd + (size_t)h * c.d;
                double x = 0;
                for (int e = 0; e < c.d; e++) x += (double)qi[e] * kj[e];
                s[j] = x * scale;
                mx = std::max(mx, s[j]);
            }
            for (int j = 0; j < lim; j++) {
                const double p = std::exp(s[j] - mx);
                sum += p;
                const float *vj = v + ((size_t)b * c.sk + j) * hd + (size_t)h * c.d;
                for (int e = 0; e < c.d; e++) acc[e] += p * vj[e];
            }
            float *oi = o + ((size_t)b * c.sq + i) * hd + (size_t)h * c.d;
            for (int e = 0; e < c.d; e++) oi[e] = (float)(acc[e] / sum);
        }
}

double rel_l2(const float *got, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double dd = (double)got[i] - ref[i];
        num += dd * dd;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

struct dev_buf { /* device f16 buffer with GUARD bytes each side */
    static constexpr size_t GUARD = 256;
    unsigned char *base = nullptr;
    size_t bytes = 0;
    int shift = 0;
    __half *data() const { return (__half *)(base + GUARD) + shift; }
    void alloc(size_t n, int sh = 0)
    {
        shift = sh;
        bytes = (n + (size_t)sh) * 2;
        CK(cudaMalloc(&base, bytes + 2 * GUARD));
        CK(cudaMemset(base, 0xA5, bytes + 2 * GUARD));
    }
    void upload(const float *f, size_t n)
    {
        std::vector<__half> h(n);
        for (size_t i = 0; i < n; i++) h[i] = __float2half_rn(f[i]);
        CK(cudaMemcpy(data(), h.data(), n * 2, cudaMemcpyHostToDevice));
    }
    void download(float *f, size_t n) const
    {
        std::vector<__half> h(n);
        CK(cudaMemcpy(h.data(), data(), n * 2, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < n; i++) f[i] = __half2float(h[i]);
    }
    bool guards_ok() const
    {
        std::vector<unsigned char> g(GUARD);
        for (int side = 0; side < 2; side++) {
            CK(cudaMemcpy(g.data(), side ? base + GUARD + bytes : base, GUARD, cudaMemcpyDeviceToHost));
            for (unsigned char x : g)
                if (x != 0xA5) return false;
        }
        return true;
    }
    ~dev_buf() { cudaFree(base); }
};

loom_tensor view3(void *p, int64_t a, int64_t b, int64_t c)
{
    const int64_t s[3] = {a, b, c};
    loom_tensor t = loom_tensor_view(p, LOOM_F16, 3, s);
    t.device = LOOM_CUDA;
    return t;
}

loom_status call(int causal, const loom_tensor *q, const loom_tensor *k, const loom_tensor *v, loom_tensor *o, int heads)
{
    return causal ? loom_cuda_attention_causal(q, k, v, o, heads, 0.0f) : loom_cuda_attention(q, k, v, o, heads, 0.0f);
}

/* median ms of `reps` runs of fn after 3 warm-ups (CUDA events) */
template <class F> double time_ms(F fn, int reps)
{
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<float> t(reps);
    for (int i = 0; i < 3; i++) fn();
    for (int i = 0; i < reps; i++) {
        CK(cudaEventRecord(e0));
        fn();
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        CK(cudaEventElapsedTime(&t[i], e0, e1));
    }
    std::sort(t.begin(), t.end());
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    return t[reps / 2];
}

/* variant 1 with MT row tiles per warp, launched directly: checked against the
 * same reference and timed, so the dispatch in attention.cu can pick MT */
template <int D, int MT>
void variant(const lab_case &c, const __half *q, const __half *k, const __half *v, __half *o, const float *ref,
             double tol, int reps)
{
    using C = loom_attn::tile_cfg<D, MT>;
    const size_t n = (size_t)c.b * c.sq * c.heads * D;
    CK(cudaFuncSetAttribute(loom_attn::flash_kernel<D, MT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            (int)C::kSmemBytes));
    loom_attn::params p = {q, k, v, o, c.sq, c.sk, c.heads, c.heads * D,
                           (float)(1.0 / std::sqrt((double)D) * 1.4426950408889634), c.causal};
    const dim3 grid((unsigned)((c.sq + C::kBlockM - 1) / C::kBlockM), (unsigned)(c.b * c.heads));
    auto fn = [&] { loom_attn::flash_kernel<D, MT><<<grid, loom_attn::kThreads, C::kSmemBytes>>>(p); };
    CK(cudaMemset(o, 0xFF, n * 2));
    fn();
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    std::vector<float> got(n);
    std::vector<__half> h(n);
    CK(cudaMemcpy(h.data(), o, n * 2, cudaMemcpyDeviceToHost));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !std::isfinite(got[i] = __half2float(h[i]));
    const double rel = rel_l2(got.data(), ref, n);
    LAB_CHECK(rel <= tol && bad == 0, "%s: variant D%d MT%d rel %.3e tol %.3e nonfinite %zu", c.what, D, MT, rel, tol,
              bad);
    const double ms = reps > 0 ? time_ms(fn, reps) : 0.0;
    const double flops = 4.0 * c.b * c.heads * (double)c.sq * c.sk * D / (c.causal ? 2.0 : 1.0);
    printf("    variant 1, MT %d (%3d queries/CTA, smem %6zu B): rel %.3e %8.4f ms %7.1f TFLOP/s\n", MT, C::kBlockM,
           C::kSmemBytes, rel, ms, ms > 0 ? flops / (ms * 1e9) : 0.0);
}

void variants(const lab_case &c, const __half *q, const __half *k, const __half *v, __half *o, const float *ref,
              double tol, int reps)
{
    switch (c.d) {
    case 40: variant<40, 1>(c, q, k, v, o, ref, tol, reps), variant<40, 2>(c, q, k, v, o, ref, tol, reps); break;
    case 64: variant<64, 1>(c, q, k, v, o, ref, tol, reps), variant<64, 2>(c, q, k, v, o, ref, tol, reps); break;
    case 80: variant<80, 1>(c, q, k, v, o, ref, tol, reps), variant<80, 2>(c, q, k, v, o, ref, tol, reps); break;
    case 160: variant<160, 1>(c, q, k, v, o, ref, tol, reps); break;
    default: break;
    }
}

void run_case(const lab_case &c, int reps)
{
    const int hd = c.heads * c.d;
    const size_t nq = (size_t)c.b * c.sq * hd, nk = (size_t)c.b * c.sk * hd;
    std::vector<float> q(nq), k(nk), v(nk), ref(nq), got(nq);
    for (auto &x : q) x = __half2float(__float2half_rn(3.0f * urand()));
    for (auto &x : k) x = __half2float(__float2half_rn(urand()));
    for (auto &x : v) x = __half2float(__float2half_rn(urand()));
    reference(c, q.data(), k.data(), v.data(), ref.data());
    std::vector<float> r16(nq);
    for (size_t i = 0; i < nq; i++) r16[i] = __half2float(__float2half_rn(ref[i]));
    const double tol = std::max(4.0 * rel_l2(r16.data(), ref.data(), nq), 1e-6);

    dev_buf dq, dk, dv, dout;
    dq.alloc(nq, c.shift), dk.alloc(nk, c.shift), dv.alloc(nk, c.shift), dout.alloc(nq, c.shift);
    dq.upload(q.data(), nq), dk.upload(k.data(), nk), dv.upload(v.data(), nk);
    CK(cudaMemset(dout.data(), 0xFF, nq * 2)); /* f16 NaN: unwritten outputs show */
    loom_tensor tq = view3(dq.data(), c.b, c.sq, hd), tk = view3(dk.data(), c.b, c.sk, hd),
                tv = view3(dv.data(), c.b, c.sk, hd), to = view3(dout.data(), c.b, c.sq, hd);
    loom_status s = call(c.causal, &tq, &tk, &tv, &to, c.heads);
    LAB_CHECK(s == LOOM_OK, "%s: %s", c.what, loom_last_error());
    CK(cudaDeviceSynchronize());
    dout.download(got.data(), nq);
    size_t bad = 0;
    for (float x : got) bad += !std::isfinite(x);
    const double rel = rel_l2(got.data(), ref.data(), nq);
    const bool guards = dout.guards_ok();
    LAB_CHECK(rel <= tol && bad == 0 && guards, "%s: rel %.3e tol %.3e nonfinite %zu guards %d", c.what, rel, tol, bad,
              (int)guards);

    /* invariance: the last sample alone, and its first ≤ 100 queries alone, give the same bits */
    const int b1 = c.b - 1, sq1 = std::min(c.sq, 100);
    dev_buf dsub;
    dsub.alloc((size_t)c.sq * hd, c.shift);
    loom_tensor sq_t = view3(dq.data() + (size_t)b1 * c.sq * hd, 1, c.sq, hd);
    loom_tensor sk_t = view3(dk.data() + (size_t)b1 * c.sk * hd, 1, c.sk, hd);
    loom_tensor sv_t = view3(dv.data() + (size_t)b1 * c.sk * hd, 1, c.sk, hd);
    loom_tensor so_t = view3(dsub.data(), 1, c.sq, hd);
    bool same = call(c.causal, &sq_t, &sk_t, &sv_t, &so_t, c.heads) == LOOM_OK;
    std::vector<__half> a((size_t)c.sq * hd), bb((size_t)c.sq * hd);
    CK(cudaMemcpy(a.data(), dsub.data(), a.size() * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(bb.data(), dout.data() + (size_t)b1 * c.sq * hd, bb.size() * 2, cudaMemcpyDeviceToHost));
    same = same && memcmp(a.data(), bb.data(), a.size() * 2) == 0;
    sq_t = view3(sq_t.data, 1, sq1, hd), so_t = view3(so_t.data, 1, sq1, hd);
    same = same && call(c.causal, &sq_t, &sk_t, &sv_t, &so_t, c.heads) == LOOM_OK;
    CK(cudaMemcpy(a.data(), dsub.data(), (size_t)sq1 * hd * 2, cudaMemcpyDeviceToHost));
    same = same && memcmp(a.data(), bb.data(), (size_t)sq1 * hd * 2) == 0;
    LAB_CHECK(same, "%s: a sample alone or a query prefix alone gives other bits", c.what);

    const double ms = reps > 0 ? time_ms([&] { (void)call(c.causal, &tq, &tk, &tv, &to, c.heads); }, reps) : 0.0;
    const double flops = 4.0 * c.b * c.heads * (double)c.sq * c.sk * c.d / (c.causal ? 2.0 : 1.0);
    printf("%-36s B%d Sq%-5d Sk%-5d H%-2d D%-3d %s rel %.3e tol %.3e (%3.0f%%)  %8.4f ms %7.1f TFLOP/s\n", c.what, c.b,
           c.sq, c.sk, c.heads, c.d, c.causal ? "causal" : "      ", rel, tol, 100.0 * rel / tol, ms,
           ms > 0 ? flops / (ms * 1e9) : 0.0);
    if (c.shift == 0 && (c.big || c.sq >= 256)) variants(c, dq.data(), dk.data(), dv.data(), dout.data(), ref.data(), tol, reps);
}

/* what must still be refused (other head dims and unaligned views are cases above) */
void refusals()
{
    dev_buf buf;
    buf.alloc(4 * 64 * 96);
    __half *p = buf.data();
    loom_tensor q = view3(p, 1, 64, 80), k = view3(p + 64 * 96, 1, 64, 80), v = view3(p + 2 * 64 * 96, 1, 64, 80),
                o = view3(p + 3 * 64 * 96, 1, 64, 80);
    LAB_CHECK(loom_cuda_attention(&k, &k, &v, &k, 2, 0) == LOOM_E_INVALID, "o == q accepted");
    printf("alias: %s\n", loom_last_error());
    loom_tensor k0 = view3(p + 64 * 96, 1, 0, 80), v0 = view3(p + 2 * 64 * 96, 1, 0, 80);
    LAB_CHECK(loom_cuda_attention_causal(&q, &k0, &v0, &o, 2, 0) == LOOM_E_INVALID, "Sk 0 accepted");
    printf("no keys: %s\n", loom_last_error());
    loom_tensor vd = view3(p + 2 * 64 * 96, 1, 64, 48), od = view3(p + 3 * 64 * 96, 1, 64, 48);
    LAB_CHECK(loom_cuda_attention(&q, &k, &vd, &od, 2, 0) == LOOM_E_UNSUPPORTED, "D != Dv accepted");
    printf("D != Dv: %s\n", loom_last_error());
}

} // namespace

int main(int argc, char **argv)
{
    bool quick = false;
    int reps = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = true, reps = 0;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    for (const lab_case &c : kCases)
        if (!quick || !c.big) run_case(c, reps);
    refusals();
    printf("%s: %d failure(s)\n", fails ? "FAILED" : "ok", fails);
    return fails ? 1 : 0;
}
