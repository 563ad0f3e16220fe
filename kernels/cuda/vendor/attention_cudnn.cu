/* attention_cudnn.cu — loom_ops_cuda_vendor's attention and
 * attention_causal (ops.h): cuDNN's fused flash attention where cuDNN takes
 * the shape, the cuBLAS path (attention_cublas.cu) where it does not.
 *
 * Which shapes cuDNN takes is cuDNN's answer: a plan is built per shape
 * (attention_cudnn_graph.cu; non-causal tries the fused SDPA operation,
 * then the composite graph; causal the composite graph) and a refusal is
 * remembered with its reason. Cheap checks first spare the plan building
 * where cuDNN's documented support surface (cuDNN frontend docs, "Attention",
 * support matrix for backend 9.18: sm_80+, fp16/bf16, head dim ≤ 256 on
 * Ampere/Ada/Hopper; sdpa_support_surface.h: head dims multiples of 8)
 * already says no: the VAE's 512-wide head, the demo model's 4- and 8-wide
 * ones that are not multiples of 8. Sequence lengths are arbitrary (SD's 77
 * text tokens, 4096 latent tokens), with no padding or ragged layout here.
 *
 * A fallback is silent per call but counted (attention_stats.h); the
 * backend-ops test checks that SD's shapes really ran on cuDNN.
 *
 * Plans: a table of kPlans keyed by (B, H, Sq, Sk, D, Dv, causal, scale, dtype);
 * building one costs milliseconds (more when cuDNN compiles the engine at
 * run time) and SD uses about ten shapes per resolution. A full table
 * reuses its oldest slot after a device sync (queued work may still run the
 * old plan). One host thread, one device, the default stream (vendor.h).
 * Not yet run on a GPU. */
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "attention_cudnn.h"
#include "nvtx.h"

namespace {

constexpr int kPlans = 32;
loom_sdpa_plan g_plans[kPlans];
int g_next;
loom_vendor_attn_stats g_stats;
int g_sm = -1; /* the device's compute capability, major·10 + minor; read once */

loom_status device_sm(int *sm)
{
    if (g_sm < 0) {
        int dev = 0, major = 0, minor = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
        g_sm = major * 10 + minor;
    }
    *sm = g_sm;
    return LOOM_OK;
}

/* Why cuDNN cannot take this call without asking it; NULL when it may. */
const char *refused_upfront(const loom_vendor_attn_dims *s, int sm, const loom_tensor *q, const loom_tensor *k,
                            const loom_tensor *v, const loom_tensor *o)
{
    const size_t ver = cudnnGetVersion();
    if (sm < 80) return "cuDNN's fused attention needs sm_80 or newer";
    if (ver == 91000 || ver == 91001) return "cuDNN 9.10.0/9.10.1 have known SDPA bugs (cudnn-frontend refuses them)";
    if (s->d % 8 || s->dv % 8) return "head dims must be multiples of 8";
    if (s->d > 256 || s->dv > 256) return "head dims above 256 are beyond cuDNN's fused attention";
    if (s->d <= 0) return "q has no channels";
    /* the score tensor's strides (all sizes are positive here) */
    if (s->sq > INT64_MAX / s->sk || s->heads > INT64_MAX / (s->sq * s->sk) ||
        s->b > INT64_MAX / (s->heads * s->sq * s->sk))
        return "B*H*Sq*Sk overflows 64 bits";
    /* every tensor is declared 16-byte aligned; BSHD rows are H·D·2 bytes, a multiple of 16 */
    const uintptr_t bits = (uintptr_t)q->data | (uintptr_t)k->data | (uintptr_t)v->data | (uintptr_t)o->data;
    if (bits % 16) return "an operand is not 16-byte aligned";
    return nullptr;
}

loom_sdpa_key make_key(const loom_vendor_attn_dims *s, int causal, loom_dtype dt)
{
    loom_sdpa_key k;
    memset(&k, 0, sizeof k); /* compared with memcmp */
    k.b = s->b;
    k.heads = s->heads;
    k.sq = s->sq;
    k.sk = s->sk;
    k.d = s->d;
    k.dv = s->dv;
    k.causal = causal;
    memcpy(&k.scale_bits, &s->scale, sizeof k.scale_bits);
    k.bf16 = dt == LOOM_BF16; /* a plan is built for one I/O type */
    return k;
}

/* The key's slot, building its plan (or recording cuDNN's refusal) on first
 * use. Only a failing device sync is an error here. */
loom_status find_plan(const loom_sdpa_key &key, loom_sdpa_plan **out)
{
    for (int i = 0; i < kPlans; i++)
        if (g_plans[i].used && memcmp(&g_plans[i].key, &key, sizeof key) == 0) {
            *out = &g_plans[i];
            return LOOM_OK;
        }
    loom_sdpa_plan *p = &g_plans[g_next];
    g_next = (g_next + 1) % kPlans;
    if (p->plan) CUDA_CHECK(cudaDeviceSynchronize()); /* queued work may still run the slot's plan */
    loom_sdpa_clear(p);
    memset(p, 0, sizeof *p);
    p->key = key;
    p->used = 1;
    *out = p;

    cudnnHandle_t h = nullptr;
    if (loom_vendor_cudnn(&h) != LOOM_OK) {
        snprintf(p->reason, sizeof p->reason, "%s", loom_last_error());
        g_stats.plans_refused++;
        return LOOM_OK;
    }
    /* the fused SDPA node (cuDNN 9.13.1+) takes no mask before 9.21 */
    int paths[2], npaths = 0;
    if (!key.causal && cudnnGetVersion() >= 91301) paths[npaths++] = LOOM_VENDOR_ATTN_CUDNN_SDPA;
    paths[npaths++] = LOOM_VENDOR_ATTN_CUDNN_GRAPH;
    size_t used = 0;
    for (int i = 0; i < npaths; i++) {
        if (loom_sdpa_build(h, paths[i], p) == LOOM_OK) {
            p->ready = 1;
            g_stats.plans_built++;
            if (i) /* a first choice was refused: say why, for the record */
                snprintf(g_stats.last_build_note, sizeof g_stats.last_build_note,
                         "B%lld H%lld Sq%lld Sk%lld D%lld: %s", (long long)key.b, (long long)key.heads,
                         (long long)key.sq, (long long)key.sk, (long long)key.d, p->reason);
            p->reason[0] = 0;
            return LOOM_OK;
        }
        if (used < sizeof p->reason) /* both refusals, "; "-separated */
            used += (size_t)snprintf(p->reason + used, sizeof p->reason - used, "%s%s", i ? "; " : "",
                                     loom_last_error());
        loom_sdpa_clear(p);
    }
    g_stats.plans_refused++;
    return LOOM_OK;
}

loom_status pack_execute(cudnnHandle_t h, const loom_sdpa_plan *p, cudnnBackendDescriptor_t pack, int n,
                         const int64_t *uids, void *const *ptrs, void *ws)
{
    CUDNN_CHECK(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids));
    CUDNN_CHECK(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, ptrs));
    CUDNN_CHECK(cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws));
    CUDNN_CHECK(cudnnBackendFinalize(pack));
    CUDNN_CHECK(cudnnBackendExecute(h, p->plan, pack));
    return LOOM_OK;
}

/* Queues the plan on q, k, v → o with workspace ws. The by-value scalars
 * are host floats read while cudnnBackendExecute launches. */
loom_status execute(cudnnHandle_t h, const loom_sdpa_plan *p, const loom_vendor_attn_dims *s, const loom_tensor *q,
                    const loom_tensor *k, const loom_tensor *v, loom_tensor *o, void *ws)
{
    LOOM_NVTX_RANGE("vendor/attention_cudnn");
    float scale = s->scale;
    /* the mask's fill: cudnn-frontend uses −inf from cuDNN 9.10, the lowest float before */
    float neg_inf = cudnnGetVersion() >= 91000 ? -INFINITY : -FLT_MAX;
    const int64_t uids[6] = {LOOM_SDPA_UID_Q, LOOM_SDPA_UID_K, LOOM_SDPA_UID_V, LOOM_SDPA_UID_O, LOOM_SDPA_UID_SCALE,
                             LOOM_SDPA_UID_NEG_INF};
    void *const ptrs[6] = {q->data, k->data, v->data, o->data, &scale, &neg_inf};
    const int n = p->key.causal ? 6 : 5; /* only the causal graph has the −inf operand */
    cudnnBackendDescriptor_t pack = nullptr;
    CUDNN_CHECK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack));
    const loom_status st = pack_execute(h, p, pack, n, uids, ptrs, ws);
    (void)cudnnBackendDestroyDescriptor(pack);
    return st;
}

void note_fallback(const char *op, const loom_vendor_attn_dims *s, const char *why)
{
    g_stats.fallback_calls++;
    g_stats.last_path = LOOM_VENDOR_ATTN_CUBLAS;
    snprintf(g_stats.last_refusal, sizeof g_stats.last_refusal, "%s B%lld H%lld Sq%lld Sk%lld D%lld Dv%lld: %s", op,
             (long long)s->b, (long long)s->heads, (long long)s->sq, (long long)s->sk, (long long)s->d,
             (long long)s->dv, why);
}

/* cuDNN's fused attention when it takes the call (*ran = 1); otherwise
 * *why says why not and the caller falls back. */
loom_status try_cudnn(const char *op, const loom_vendor_attn_dims *s, const loom_tensor *q, const loom_tensor *k,
                      const loom_tensor *v, loom_tensor *o, int causal, int *ran, const char **why)
{
    *ran = 0;
    int sm = 0;
    LOOM_TRY(device_sm(&sm));
    *why = refused_upfront(s, sm, q, k, v, o);
    if (*why) return LOOM_OK;
    loom_sdpa_plan *p = nullptr;
    LOOM_TRY(find_plan(make_key(s, causal, q->dtype), &p));
    if (!p->ready) {
        *why = p->reason;
        return LOOM_OK;
    }
    void *ws = nullptr; /* failures here are errors, not refusals: the fallback needs the same */
    if (p->ws_bytes > 0) LOOM_TRY(loom_vendor_workspace((size_t)p->ws_bytes, &ws));
    cudnnHandle_t h = nullptr;
    LOOM_TRY(loom_vendor_cudnn(&h));
    if (execute(h, p, s, q, k, v, o, ws) != LOOM_OK) {
        /* refuse the shape from now on; the plan is destroyed when its slot is reused (after a sync) */
        char msg[sizeof p->reason];
        snprintf(msg, sizeof msg, "execution failed: %s", loom_last_error());
        memcpy(p->reason, msg, sizeof msg);
        p->ready = 0;
        g_stats.plans_refused++;
        *why = p->reason;
        return LOOM_OK;
    }
    g_stats.cudnn_calls++;
    g_stats.last_path = p->path;
    *ran = 1;
    return LOOM_OK;
}

loom_status attention_entry(const char *op, const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                            loom_tensor *o, int heads, float scale, int causal)
{
    loom_vendor_attn_dims s;
    LOOM_TRY(loom_vendor_attention_check(op, q, k, v, o, heads, scale, &s));
    if (s.empty) {
        g_stats.last_path = LOOM_VENDOR_ATTN_NONE;
        return LOOM_OK;
    }
    int ran = 0;
    const char *why = nullptr;
    LOOM_TRY(try_cudnn(op, &s, q, k, v, o, causal, &ran, &why));
    if (ran) return LOOM_OK;
    note_fallback(op, &s, why ? why : "?");
    return loom_vendor_attention_cublas(op, &s, q, k, v, o, causal);
}

} // namespace

loom_status loom_vendor_attention(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v, loom_tensor *o,
                                  int heads, float scale)
{
    LOOM_NVTX_RANGE("vendor/attention");
    return attention_entry("attention", q, k, v, o, heads, scale, 0);
}

loom_status loom_vendor_attention_causal(const loom_tensor *q, const loom_tensor *k, const loom_tensor *v,
                                         loom_tensor *o, int heads, float scale)
{
    LOOM_NVTX_RANGE("vendor/attention_causal");
    return attention_entry("attention_causal", q, k, v, o, heads, scale, 1);
}

extern "C" void loom_vendor_attention_stats(loom_vendor_attn_stats *out) { *out = g_stats; }

extern "C" const char *loom_vendor_attn_path_name(int path)
{
    switch (path) {
    case LOOM_VENDOR_ATTN_CUDNN_SDPA: return "cudnn-sdpa";
    case LOOM_VENDOR_ATTN_CUDNN_GRAPH: return "cudnn-graph";
    case LOOM_VENDOR_ATTN_CUBLAS: return "cublas";
    default: return "none";
    }
}
