/* gemm.cu (lab) — loom's tensor-core tile GEMM and implicit-GEMM conv (kernels/cuda/mma_tile.cuh,
 * kernel version 1: cp.async ring + swizzled ldmatrix + mma.sync m16n8k16), checked against a CPU loop in
 * double, then timed. Every tile config × operand path is run directly, and the public entries
 * (loom_cuda_gemm / loom_cuda_conv2d) once; all runs of a case must agree bit for bit (batch
 * invariance: a row's result may not depend on the tile variant or M), and each must match the
 * reference within the f16 rounding of the output.
 *
 * Build from the repo root (not part of the default build):
 *   gcc -O2 -std=c11 -Ikernels -c kernels/loom_base.c -o /tmp/loom_base.o
 *   nvcc -O3 -std=c++17 -arch=sm_90 -Ikernels -Ikernels/cuda kernels/dev/gemm.cu kernels/cuda/gemm.cu \
 *        kernels/cuda/conv2d.cu kernels/cuda/args.cu /tmp/loom_base.o -lcublas -o gemm_lab
 * Run: ./gemm_lab [quick]   (quick: small shapes, no timing — for compute-sanitizer)
 *
 * H200, 2026-11-27 (version 1, L2 flushed): all cases pass, all variants bit-identical, memcheck and
 * racecheck clean. Picked variant vs cuBLAS (TFLOP/s): 4096×320×320 72 vs 110, 4096×2560×320 GEGLU
 * 133 vs 375 (no GEGLU), 4096×320×1280 130 vs 309, 8192×2560×1280 267 vs 680. Convs (3×3, batch 1):
 * 64×64 320→320 99 (0.076 ms), 32×32 640 63, 16×16 1280 38, 8×8 1280 11; VAE 128×128 512 208.
 * Dropped variants: 128×64 (4 warps) and 128×128 with 4 warps of 64×64. */
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <cublas_v2.h>

#include "mma_tile.cuh"
extern "C" {
#include "cuda_ops.h"
#include "gemm.h"
/* runtime.cu's debug switch, off in the lab */
int loom_cuda_sync_check_enabled(void) { return 0; }
}

using namespace loom_mma;
static const char *const vname[VARIANT_COUNT] = {"128x128", "64x64", "64x64/6st", "64x32", "128x16"};
#define CK(x)                                                                                                          \
    do {                                                                                                               \
        cudaError_t e_ = (x);                                                                                          \
        if (e_ != cudaSuccess) {                                                                                       \
            printf("FATAL %s: %s\n", #x, cudaGetErrorString(e_));                                                      \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static int g_fail = 0;
static uint32_t g_seed = 1;
static float rnd()
{
    g_seed = g_seed * 1664525u + 1013904223u;
    return (float)((g_seed >> 8) * (1.0 / 8388608.0)) - 1.0f;
}
static float hf(__half h)
{
    return __half2float(h);
}

static __half *upload(const std::vector<__half> &h, int extra)
{ /* extra elements in front: a 2-byte-aligned base when extra is odd */
    __half *d;
    CK(cudaMalloc(&d, (h.size() + extra + 8) * sizeof(__half)));
    CK(cudaMemcpy(d + extra, h.data(), h.size() * sizeof(__half), cudaMemcpyHostToDevice));
    return d + extra;
}
static std::vector<__half> rand_h(size_t n, float scale)
{
    std::vector<__half> v(n);
    for (auto &x : v)
        x = __float2half(rnd() * scale);
    return v;
}

/* Compares y with ref on the rows in `rows`; bits: y must equal first bit for bit. Returns ok. */
static bool compare(const char *what, const std::vector<__half> &y, const std::vector<double> &ref,
                    const std::vector<int> &rows, int ncol, const std::vector<__half> *first)
{
    double maxe = 0, worst = 0;
    bool finite = true;
    for (size_t i = 0; i < rows.size(); i++)
        for (int j = 0; j < ncol; j++) {
            const double r = ref[i * ncol + j], v = hf(y[(size_t)rows[i] * ncol + j]);
            const double e = fabs(v - r), lim = 1.5e-3 * fabs(r) + 2e-4; /* f16 rounding: 4.9e-4 relative */
            if (!std::isfinite(e))
                finite = false;
            else
                maxe = fmax(maxe, e), worst = fmax(worst, e / lim);
        }
    bool same = !first || memcmp(first->data(), y.data(), y.size() * sizeof(__half)) == 0;
    bool ok = finite && worst <= 1.0 && same;
    if (!ok || !first)
        printf("  %-34s max err %.3g (%.2f of tol)%s%s %s\n", what, maxe, worst, finite ? "" : " NaN/Inf",
               same ? "" : " BITS DIFFER", ok ? "ok" : "FAIL");
    if (!ok)
        g_fail++;
    return ok;
}

static std::vector<int> sample_rows(int m)
{
    std::vector<int> r;
    for (int i = 0; i < m; i++)
        if (i < 48 || i % 53 == 0 || i >= m - 48)
            r.push_back(i);
    return r;
}

/* ---- GEMM cases ---------------------------------------------------------------------------- */
struct gcase {
    int m, n, k, lda_pad, bias, res, geglu, inplace, extra, misalign;
};

static void gemm_case(const gcase &c)
{
    const int nout = c.geglu ? c.n / 2 : c.n, lda = c.k + c.lda_pad;
    auto A = rand_h((size_t)c.m * lda, 1.0f), B = rand_h((size_t)c.n * c.k, 1.7f / sqrtf((float)(c.k ? c.k : 1)));
    auto bias = rand_h(c.n, 0.5f), R = rand_h((size_t)c.m * nout, 1.0f);
    std::vector<float> cs(c.n), bf(c.n);
    for (int i = 0; i < c.n; i++)
        cs[i] = 0.5f + 0.5f * (rnd() + 1.0f), bf[i] = 0.25f * rnd();
    const float alpha = c.extra ? 0.75f : 1.0f;
    const int mis = c.misalign ? 1 : 0;
    __half *dA = upload(A, mis), *dB = upload(B, 0), *dbias = upload(bias, mis), *dR = upload(R, mis);
    __half *dC = upload(std::vector<__half>((size_t)c.m * nout), mis);
    float *dcs, *dbf;
    CK(cudaMalloc(&dcs, c.n * 4));
    CK(cudaMalloc(&dbf, c.n * 4));
    CK(cudaMemcpy(dcs, cs.data(), c.n * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dbf, bf.data(), c.n * 4, cudaMemcpyHostToDevice));

    const auto rows = sample_rows(c.m);
    std::vector<double> ref(rows.size() * nout);
    for (size_t ri = 0; ri < rows.size(); ri++) {
        const int r = rows[ri];
        std::vector<double> v(c.n);
        for (int j = 0; j < c.n; j++) {
            double s = 0;
            for (int kk = 0; kk < c.k; kk++)
                s += (double)hf(A[(size_t)r * lda + kk]) * hf(B[(size_t)j * c.k + kk]);
            s *= alpha;
            if (c.extra)
                s = s * cs[j] + bf[j];
            if (c.bias)
                s += hf(bias[j]);
            v[j] = s;
        }
        for (int j = 0; j < nout; j++) {
            double o = c.geglu ? v[j] * 0.5 * v[nout + j] * erfc(-v[nout + j] / sqrt(2.0)) : v[j];
            if (c.res)
                o += hf(R[(size_t)r * nout + j]);
            ref[ri * nout + j] = o;
        }
    }
    loom_gemm_epilogue ep = LOOM_GEMM_EPILOGUE_INIT;
    ep.alpha = alpha;
    ep.col_scale = c.extra ? dcs : nullptr;
    ep.bias_f32 = c.extra ? dbf : nullptr;
    ep.bias = c.bias ? dbias : nullptr;
    __half *res_buf = c.inplace ? dC : dR;
    ep.residual = c.res ? res_buf : nullptr;
    ep.geglu = c.geglu;
    char name[160];
    snprintf(name, sizeof name, "gemm %dx%dx%d%s%s%s%s%s%s", c.m, c.n, c.k, c.bias ? " +b" : "", c.res ? " +r" : "",
             c.geglu ? " geglu" : "", c.inplace ? " inplace" : "", c.extra ? " alpha/scale/bf32" : "",
             c.misalign ? " mis" : "");
    printf("%s\n", name);
    std::vector<__half> y((size_t)c.m * nout), first;
    auto reset = [&]() {
        CK(cudaMemcpy(res_buf, R.data(), R.size() * 2, cudaMemcpyHostToDevice));
        if (!c.inplace)
            CK(cudaMemset(dC, 0xff, y.size() * 2));
    };
    reset();
    if (loom_cuda_gemm(dA, lda, dB, c.k, dC, nout, c.m, c.n, c.k, &ep) != LOOM_OK) {
        printf("  entry: %s FAIL\n", loom_last_error());
        g_fail++;
        return;
    }
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(y.data(), dC, y.size() * 2, cudaMemcpyDeviceToHost));
    compare("entry", y, ref, rows, nout, nullptr);
    first = y;
    const bool vec_ok = c.k % 8 == 0 && lda % 8 == 0 && !mis;
    for (int v = 0; v < VARIANT_COUNT; v++)
        for (int vec = 0; vec <= (vec_ok ? 1 : 0); vec++) {
            reset();
            epi_params e = {
                dC,    nout, (const __half *)ep.residual, (const __half *)ep.bias, ep.bias_f32, ep.col_scale,
                alpha, nout, !mis && nout % 2 == 0};
            const dense_params ap = {dA, lda}, bp = {dB, c.k};
            if (c.geglu)
                launch_variant<dense_params, true>((variant)v, vec, ap, bp, e, c.m, c.n, c.k);
            else
                launch_variant<dense_params, false>((variant)v, vec, ap, bp, e, c.m, c.n, c.k);
            CK(cudaGetLastError());
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(y.data(), dC, y.size() * 2, cudaMemcpyDeviceToHost));
            char w[64];
            snprintf(w, sizeof w, "variant %s %s", vname[v], vec ? "vec" : "scalar");
            compare(w, y, ref, rows, nout, &first);
        }
    cudaFree(dA - mis);
    cudaFree(dB);
    cudaFree(dbias - mis);
    cudaFree(dR - mis);
    cudaFree(dC - mis);
    cudaFree(dcs);
    cudaFree(dbf);
}

/* ---- conv cases ------------------------------------------------------------------------------ */
struct ccase {
    int n, h, w, c, o, kh, kw, s, pad, bias, res;
};

static void conv_case(const ccase &c)
{
    const int ho = (c.h + 2 * c.pad - c.kh) / c.s + 1, wo = (c.w + 2 * c.pad - c.kw) / c.s + 1, k = c.kh * c.kw * c.c;
    const int m = c.n * ho * wo;
    auto X = rand_h((size_t)c.n * c.h * c.w * c.c, 1.0f), W = rand_h((size_t)c.o * k, 1.7f / sqrtf((float)k));
    auto bias = rand_h(c.o, 0.5f), R = rand_h((size_t)m * c.o, 1.0f);
    __half *dX = upload(X, 0), *dW = upload(W, 0), *db = upload(bias, 0), *dR = upload(R, 0);
    __half *dY = upload(std::vector<__half>((size_t)m * c.o), 0);
    const auto rows = sample_rows(m);
    std::vector<double> ref(rows.size() * c.o);
    for (size_t ri = 0; ri < rows.size(); ri++) {
        const int r = rows[ri], b = r / (ho * wo), oh = r % (ho * wo) / wo, ow = r % wo;
        for (int oc = 0; oc < c.o; oc++) {
            double s = 0;
            for (int p = 0; p < c.kh; p++)
                for (int q = 0; q < c.kw; q++) {
                    const int hi = oh * c.s - c.pad + p, wi = ow * c.s - c.pad + q;
                    if (hi < 0 || hi >= c.h || wi < 0 || wi >= c.w)
                        continue;
                    for (int ch = 0; ch < c.c; ch++)
                        s += (double)hf(X[(((size_t)b * c.h + hi) * c.w + wi) * c.c + ch]) *
                             hf(W[(size_t)oc * k + (p * c.kw + q) * c.c + ch]);
                }
            if (c.bias)
                s += hf(bias[oc]);
            if (c.res)
                s += hf(R[(size_t)r * c.o + oc]);
            ref[ri * c.o + oc] = s;
        }
    }
    printf("conv x[%d,%d,%d,%d] w[%d,%d,%d,%d] s%d p%d%s%s\n", c.n, c.h, c.w, c.c, c.o, c.kh, c.kw, c.c, c.s, c.pad,
           c.bias ? " +b" : "", c.res ? " +r" : "");
    const int64_t xs[4] = {c.n, c.h, c.w, c.c}, ws[4] = {c.o, c.kh, c.kw, c.c}, ys[4] = {c.n, ho, wo, c.o},
                  bs[1] = {c.o};
    loom_tensor tx = loom_tensor_view(dX, LOOM_F16, 4, xs), tw = loom_tensor_view(dW, LOOM_F16, 4, ws);
    loom_tensor ty = loom_tensor_view(dY, LOOM_F16, 4, ys), tb = loom_tensor_view(db, LOOM_F16, 1, bs),
                tr = loom_tensor_view(dR, LOOM_F16, 4, ys);
    tx.device = tw.device = ty.device = tb.device = tr.device = LOOM_CUDA;
    const loom_conv2d_params cp = {c.s, c.s, c.pad, c.pad};
    std::vector<__half> y((size_t)m * c.o), first;
    CK(cudaMemset(dY, 0xff, y.size() * 2));
    if (loom_cuda_conv2d(&tx, &tw, c.bias ? &tb : nullptr, c.res ? &tr : nullptr, &ty, &cp) != LOOM_OK) {
        printf("  entry: %s FAIL\n", loom_last_error());
        g_fail++;
        return;
    }
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(y.data(), dY, y.size() * 2, cudaMemcpyDeviceToHost));
    compare("entry", y, ref, rows, c.o, nullptr);
    first = y;
    const conv_params p = {dX, c.h, c.w, c.c, c.kw, ho, wo, c.s, c.s, c.pad, c.pad};
    const dense_params bp = {dW, k};
    const epi_params e = {dY,   c.o, c.res ? dR : nullptr, c.bias ? db : nullptr, nullptr, nullptr,
                          1.0f, c.o, c.o % 2 == 0};
    for (int v = 0; v < VARIANT_COUNT; v++)
        for (int vec = 0; vec <= (c.c % 8 == 0 ? 1 : 0); vec++) {
            CK(cudaMemset(dY, 0xff, y.size() * 2));
            launch_variant<conv_params, false>((variant)v, vec, p, bp, e, m, c.o, k);
            CK(cudaGetLastError());
            CK(cudaDeviceSynchronize());
            CK(cudaMemcpy(y.data(), dY, y.size() * 2, cudaMemcpyDeviceToHost));
            char w[64];
            snprintf(w, sizeof w, "variant %s %s", vname[v], vec ? "vec" : "scalar");
            compare(w, y, ref, rows, c.o, &first);
        }
    cudaFree(dX);
    cudaFree(dW);
    cudaFree(db);
    cudaFree(dR);
    cudaFree(dY);
}

/* ---- timing ---------------------------------------------------------------------------------- */
static char *g_flush;
template <class F> static double time_ms(F f)
{
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    f();
    CK(cudaDeviceSynchronize());
    double tot = 0;
    const int reps = 20;
    for (int i = 0; i < reps; i++) {
        CK(cudaMemsetAsync(g_flush, i, 256 << 20)); /* evict L2 */
        CK(cudaEventRecord(a));
        f();
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        float ms;
        CK(cudaEventElapsedTime(&ms, a, b));
        tot += ms;
    }
    return tot / reps;
}

static void time_gemm(cublasHandle_t h, int m, int n, int k, int geglu)
{
    auto A = rand_h((size_t)m * k, 1), B = rand_h((size_t)n * k, 0.05f);
    __half *dA = upload(A, 0), *dB = upload(B, 0), *dC = upload(std::vector<__half>((size_t)m * n), 0);
    loom_gemm_epilogue ep = LOOM_GEMM_EPILOGUE_INIT;
    ep.geglu = geglu;
    const double fl = 2.0 * m * n * k;
    const double t0 = time_ms([&] { loom_cuda_gemm(dA, k, dB, k, dC, geglu ? n / 2 : n, m, n, k, &ep); });
    printf("  gemm %5dx%5dx%5d%s entry (%s): %.4f ms %6.1f TFLOP/s", m, n, k, geglu ? " geglu" : "      ",
           vname[pick_variant(m, n)], t0, fl / t0 * 1e-9);
    for (int v = 0; v < V128x16; v++) {
        const epi_params e = {dC, geglu ? n / 2 : n, nullptr, nullptr, nullptr, nullptr, 1.0f, geglu ? n / 2 : n, 1};
        const double t = time_ms([&] {
            if (geglu)
                launch_variant<dense_params, true>((variant)v, true, {dA, k}, {dB, k}, e, m, n, k);
            else
                launch_variant<dense_params, false>((variant)v, true, {dA, k}, {dB, k}, e, m, n, k);
        });
        printf(" | %s %.0f", vname[v], fl / t * 1e-9);
    }
    const float one = 1, zero = 0;
    const double tc = time_ms([&] {
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &one, dB, CUDA_R_16F, k, dA, CUDA_R_16F, k, &zero, dC,
                     CUDA_R_16F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    });
    printf(" | cuBLAS %.1f TFLOP/s\n", fl / tc * 1e-9);
    cudaFree(dA);
    cudaFree(dB);
    cudaFree(dC);
}

static void time_conv(int n, int hw, int c, int o, int ks, int s)
{
    const int pad = ks / 2, ho = (hw + 2 * pad - ks) / s + 1, m = n * ho * ho, k = ks * ks * c;
    __half *dX = upload(rand_h((size_t)n * hw * hw * c, 1), 0), *dW = upload(rand_h((size_t)o * k, 0.02f), 0);
    __half *dY = upload(std::vector<__half>((size_t)m * o), 0);
    const conv_params p = {dX, hw, hw, c, ks, ho, ho, s, s, pad, pad};
    const epi_params e = {dY, o, nullptr, nullptr, nullptr, nullptr, 1.0f, o, 1};
    const variant pv = pick_variant(m, o);
    const double fl = 2.0 * m * o * k;
    printf("  conv %dx%d %4d->%4d k%d s%d n%d (%s):", hw, hw, c, o, ks, s, n, vname[pv]);
    for (int v = 0; v < V128x16; v++) {
        const double t = time_ms([&] {
            launch_variant<conv_params, false>((variant)v, c % 8 == 0, p, {dW, k}, e, m, o, k);
        });
        printf(" | %s%s %.4f ms %.0f", v == pv ? "*" : "", vname[v], t, fl / t * 1e-9);
    }
    printf("\n");
    cudaFree(dX);
    cudaFree(dW);
    cudaFree(dY);
}

int main(int argc, char **argv)
{
    const bool quick = argc > 1 && !strcmp(argv[1], "quick");
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s, %d SMs\n", prop.name, prop.multiProcessorCount);
    const gcase gs[] = {
        {77, 19, 36, 0, 1, 1, 0, 0, 0, 0},    {1, 1, 1, 0, 1, 1, 0, 0, 0, 0},     {5, 4, 8, 0, 0, 0, 0, 0, 0, 0},
        {130, 17, 24, 0, 1, 0, 0, 0, 0, 0},   {33, 16, 200, 0, 0, 1, 0, 1, 0, 0}, {300, 4, 320, 0, 1, 1, 0, 0, 0, 0},
        {200, 40, 13, 3, 1, 1, 0, 0, 0, 1},   {129, 66, 72, 8, 1, 1, 0, 1, 1, 0}, {70, 50, 40, 0, 1, 1, 1, 0, 1, 0},
        {65, 34, 24, 0, 0, 0, 1, 0, 0, 1},    {9, 7, 0, 0, 1, 1, 0, 0, 0, 0},     {9, 6, 0, 0, 0, 0, 1, 0, 0, 0},
        {257, 130, 264, 0, 1, 1, 0, 1, 0, 0},
    };
    const gcase big[] = {
        {4096, 320, 320, 0, 1, 1, 0, 1, 0, 0},
        {154, 320, 768, 0, 0, 0, 0, 0, 0, 0},
        {4096, 2560, 320, 0, 1, 0, 1, 0, 0, 0},
        {4096, 320, 1280, 0, 1, 1, 0, 0, 0, 0},
    };
    const ccase cs[] = {
        {2, 7, 9, 12, 5, 3, 3, 2, 1, 1, 1},  {1, 5, 5, 8, 3, 1, 1, 2, 0, 1, 0},   {1, 31, 17, 3, 7, 3, 3, 1, 1, 0, 1},
        {2, 9, 7, 16, 33, 5, 3, 3, 2, 1, 1}, {1, 6, 6, 24, 20, 3, 3, 1, 1, 1, 1}, {1, 4, 4, 0, 6, 3, 3, 1, 1, 1, 0},
    };
    const ccase sd[] = {
        {1, 64, 64, 4, 320, 3, 3, 1, 1, 1, 0},   {1, 64, 64, 320, 320, 3, 3, 1, 1, 1, 1},
        {1, 32, 32, 640, 640, 3, 3, 1, 1, 1, 0}, {1, 16, 16, 1280, 1280, 3, 3, 1, 1, 1, 0},
        {1, 8, 8, 1280, 1280, 3, 3, 1, 1, 1, 1}, {1, 64, 64, 320, 320, 3, 3, 2, 1, 1, 0},
        {1, 32, 32, 320, 640, 1, 1, 1, 0, 1, 0}, {1, 64, 64, 320, 4, 3, 3, 1, 1, 1, 0},
    };
    for (const auto &c : gs)
        gemm_case(c);
    for (const auto &c : cs)
        conv_case(c);
    if (!quick) {
        for (const auto &c : big)
            gemm_case(c);
        for (const auto &c : sd)
            conv_case(c);
        CK(cudaMalloc(&g_flush, 256 << 20));
        cublasHandle_t h;
        cublasCreate(&h);
        printf("timing (TFLOP/s per tile variant, vec path)\n");
        /* SD1.x at 512²: tokens 4096/1024/256 (×2 with CFG), widths 320/640/1280, FF 4·width */
        const int gt[][4] = {{4096, 320, 320, 0},  {4096, 2560, 320, 1}, {4096, 320, 1280, 0},  {8192, 320, 320, 0},
                             {8192, 2560, 320, 1}, {8192, 320, 1280, 0}, {2048, 640, 640, 0},   {2048, 5120, 640, 1},
                             {2048, 640, 2560, 0}, {512, 1280, 1280, 0}, {512, 10240, 1280, 1}, {512, 1280, 5120, 0},
                             {154, 320, 768, 0},   {8192, 2560, 1280, 0}};
        for (const auto &g : gt)
            time_gemm(h, g[0], g[1], g[2], g[3]);
        for (int n = 1; n <= 2; n++) {
            time_conv(n, 64, 320, 320, 3, 1);
            time_conv(n, 32, 640, 640, 3, 1);
            time_conv(n, 16, 1280, 1280, 3, 1);
            time_conv(n, 8, 1280, 1280, 3, 1);
            time_conv(n, 64, 320, 320, 3, 2);
            time_conv(n, 32, 320, 640, 1, 1);
            time_conv(n, 64, 4, 320, 3, 1);
        }
        time_conv(1, 256, 256, 256, 3, 1);
        time_conv(1, 128, 512, 512, 3, 1);
    }
    printf("%s: %d failure(s)\n", g_fail ? "FAIL" : "PASS", g_fail);
    return g_fail ? 1 : 0;
}
