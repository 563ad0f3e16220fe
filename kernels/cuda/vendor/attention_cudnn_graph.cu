/* attention_cudnn_graph.cu — the cuDNN graphs behind the vendor attention
 * baseline, written with cuDNN's backend (graph) API directly: descriptors
 * created, attributes set, finalized (no cudnn-frontend). The recipes are
 * the ones cudnn-frontend lowers its SDPA node to for fp16 inference on
 * cuDNN 9.13.1+ (node/scaled_dot_product_flash_attention.h,
 * sdpa_support_surface.h), which cuDNN's flash-attention engines recognise:
 *
 *   SDPA   one CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR: Q, K, V, O and a
 *          by-value scale; no stats output (= inference). Non-causal only:
 *          masks on this node need cuDNN 9.21. What the frontend's
 *          implementation AUTO picks for a plain fp16 inference SDPA.
 *   GRAPH  the composite pattern (the frontend's CompositeSDPANode, used
 *          for causal on cuDNN < 9.21):
 *            S  = Q·Kᵀ                      matmul, fp32 out (Kᵀ a strided view)
 *            S' = S·scale                   pointwise MUL, scale by value
 *           [causal: row = GEN_INDEX(S', axis 2), col = GEN_INDEX(S', axis 3),
 *            keep = row ≥ col (CMP_GE → bool), S' = keep ? S' : −inf
 *            (BINARY_SELECT; −inf by value): top-left aligned, as torch]
 *            m = max(S') over keys           REDUCTION MAX → [B,H,Sq,1]
 *            e = exp(S' − m)                 SUB, EXP
 *            P = e / Σe                      REDUCTION ADD, DIV; P is fp16
 *            O = P·V                         matmul, fp32 accumulate, fp16 out
 *          The softmax without its stats (log-sum-exp) output: inference.
 *          P's type is the I/O type, as the frontend sets it ("requirement
 *          by cudnn backend to take in bmm2 aType as i/o type").
 *
 * Layout: loom's q[B,S,H·D] is BSHD. Tensors are described as logical
 * [B,H,S,D] with strides [S·H·D, D, H·D, 1], so no transposing copies.
 * Every intermediate is virtual (never stored) and fp32, except the index
 * tensors (int32), the mask (bool) and P (fp16). 16-byte alignment is
 * declared for every tensor (the caller checks the pointers).
 *
 * The plan: heuristics mode A, then FALLBACK; the first engine config that
 * finalizes with at most kMaxWorkspace of workspace. Any cuDNN refusal is a
 * loom error whose message names the step; the caller caches it as the
 * shape's reason to fall back. Not yet run on a GPU. */
#include <cstdio>
#include <cstring>

#include "attention_cudnn.h"

namespace {

constexpr int kMaxConfigs = 16;                       /* engine configs tried per heuristics mode */
constexpr int64_t kMaxWorkspace = int64_t(256) << 20; /* as the conv baseline */
constexpr int kMaxOps = 16; /* the causal composite graph has 12 */

/* Virtual tensors' ids (the graph's edges; never in the variant pack). */
enum : int64_t {
    kUidS = 101,     /* Q·Kᵀ */
    kUidScaled,      /* ·scale */
    kUidRow,         /* causal: query index */
    kUidCol,         /* causal: key index */
    kUidKeep,        /* causal: row ≥ col */
    kUidMasked,      /* causal: masked scores */
    kUidMax,         /* row max */
    kUidSub,         /* scores − max */
    kUidExp,         /* exp of that */
    kUidSum,         /* row sum of exp */
    kUidP,           /* probabilities, fp16 */
};

struct layout {
    int64_t dims[4], strides[4];
};

/* A new descriptor owned by p (loom_sdpa_clear destroys it). */
loom_status make(loom_sdpa_plan *p, cudnnBackendDescriptorType_t type, cudnnBackendDescriptor_t *out)
{
    if (p->nkeep == kLoomSdpaKeep)
        return loom_fail(LOOM_E_NOMEM, "more than %d cuDNN descriptors for one attention graph", kLoomSdpaKeep);
    CUDNN_CHECK(cudnnBackendCreateDescriptor(type, out));
    p->keep[p->nkeep++] = *out;
    return LOOM_OK;
}

loom_status set_desc(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendDescriptor_t v)
{
    CUDNN_CHECK(cudnnBackendSetAttribute(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v));
    return LOOM_OK;
}

loom_status tensor_attrs(cudnnBackendDescriptor_t t, int64_t uid, cudnnDataType_t type, const layout &l,
                         bool is_virtual, bool by_value)
{
    const int64_t align = 16;
    CUDNN_CHECK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type));
    CUDNN_CHECK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, l.dims));
    CUDNN_CHECK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, l.strides));
    CUDNN_CHECK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
    CUDNN_CHECK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align));
    CUDNN_CHECK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual));
    if (by_value)
        CUDNN_CHECK(cudnnBackendSetAttribute(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value));
    CUDNN_CHECK(cudnnBackendFinalize(t));
    return LOOM_OK;
}

loom_status tensor(loom_sdpa_plan *p, int64_t uid, cudnnDataType_t type, const layout &l, bool is_virtual,
                   bool by_value, cudnnBackendDescriptor_t *out)
{
    LOOM_TRY(make(p, CUDNN_BACKEND_TENSOR_DESCRIPTOR, out));
    const loom_status s = tensor_attrs(*out, uid, type, l, is_virtual, by_value);
    return s == LOOM_OK ? s : loom_fail_wrap(s, "tensor %lld", (long long)uid);
}

/* y = mode(x [, b] [, t]) with math precision `prec`; axis ≥ 0 for GEN_INDEX.
 * b and t may be NULL (unary modes; t is BINARY_SELECT's condition). */
loom_status pointwise_op(loom_sdpa_plan *p, cudnnPointwiseMode_t mode, cudnnDataType_t prec, int64_t axis,
                         cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t t,
                         cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t *op)
{
    cudnnBackendDescriptor_t pw = nullptr;
    LOOM_TRY(make(p, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, &pw));
    CUDNN_CHECK(cudnnBackendSetAttribute(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode));
    CUDNN_CHECK(cudnnBackendSetAttribute(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec));
    if (axis >= 0) CUDNN_CHECK(cudnnBackendSetAttribute(pw, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis));
    CUDNN_CHECK(cudnnBackendFinalize(pw));
    LOOM_TRY(make(p, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, op));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x));
    if (b) LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b));
    if (t) LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y));
    const float one = 1.0f; /* the frontend sets both alphas on every pointwise op */
    CUDNN_CHECK(cudnnBackendSetAttribute(*op, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA1, CUDNN_TYPE_FLOAT, 1, &one));
    CUDNN_CHECK(cudnnBackendSetAttribute(*op, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA2, CUDNN_TYPE_FLOAT, 1, &one));
    CUDNN_CHECK(cudnnBackendFinalize(*op));
    return LOOM_OK;
}

loom_status pointwise(loom_sdpa_plan *p, const char *what, cudnnPointwiseMode_t mode, cudnnDataType_t prec,
                      int64_t axis, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                      cudnnBackendDescriptor_t t, cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t *op)
{
    const loom_status s = pointwise_op(p, mode, prec, axis, x, b, t, y, op);
    return s == LOOM_OK ? s : loom_fail_wrap(s, "pointwise %s", what);
}

/* y[..., 1] = reduce(x) over the last dim, fp32. */
loom_status reduction_op(loom_sdpa_plan *p, cudnnReduceTensorOp_t red, cudnnBackendDescriptor_t x,
                         cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t *op)
{
    const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t rd = nullptr;
    LOOM_TRY(make(p, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, &rd));
    CUDNN_CHECK(
        cudnnBackendSetAttribute(rd, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &red));
    CUDNN_CHECK(cudnnBackendSetAttribute(rd, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f32));
    CUDNN_CHECK(cudnnBackendFinalize(rd));
    LOOM_TRY(make(p, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, op));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, rd));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y));
    CUDNN_CHECK(cudnnBackendFinalize(*op));
    return LOOM_OK;
}

loom_status reduction(loom_sdpa_plan *p, const char *what, cudnnReduceTensorOp_t red, cudnnBackendDescriptor_t x,
                      cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t *op)
{
    const loom_status s = reduction_op(p, red, x, y, op);
    return s == LOOM_OK ? s : loom_fail_wrap(s, "reduction %s", what);
}

/* c = a·b over the last two dims, batched over the first two; fp32 compute. */
loom_status matmul_op(loom_sdpa_plan *p, cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                      cudnnBackendDescriptor_t c, cudnnBackendDescriptor_t *op)
{
    const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t md = nullptr;
    LOOM_TRY(make(p, CUDNN_BACKEND_MATMUL_DESCRIPTOR, &md));
    CUDNN_CHECK(cudnnBackendSetAttribute(md, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f32));
    CUDNN_CHECK(cudnnBackendFinalize(md));
    LOOM_TRY(make(p, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, op));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, b));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c));
    LOOM_TRY(set_desc(*op, CUDNN_ATTR_OPERATION_MATMUL_DESC, md));
    CUDNN_CHECK(cudnnBackendFinalize(*op));
    return LOOM_OK;
}

loom_status matmul(loom_sdpa_plan *p, const char *what, cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                   cudnnBackendDescriptor_t c, cudnnBackendDescriptor_t *op)
{
    const loom_status s = matmul_op(p, a, b, c, op);
    return s == LOOM_OK ? s : loom_fail_wrap(s, "matmul %s", what);
}

/* loom's [B,S,H·X] activation as the logical [B,H,S,X] tensor cuDNN wants. */
layout bshd(int64_t b, int64_t h, int64_t s, int64_t x)
{
    return layout{{b, h, s, x}, {s * h * x, x, h * x, 1}};
}

/* The by-value scalars: [1,1,1,1] broadcasts against any 4-D operand. */
const layout kScalar = {{1, 1, 1, 1}, {1, 1, 1, 1}};

/* The 16-bit type of q, k, v, o and the composite graph's P: the call's (part of the plan key). */
cudnnDataType_t io_type(const loom_sdpa_key &k) { return k.bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF; }

/* Kᵀ [B,H,D,Sk] as a view of k[B,Sk,H·D]: bshd's strides with the last two swapped. */
layout transposed_k(int64_t b, int64_t h, int64_t sk, int64_t d)
{
    return layout{{b, h, d, sk}, {sk * h * d, d, 1, h * d}};
}

loom_status graph_sdpa_op(loom_sdpa_plan *p, cudnnBackendDescriptor_t *ops, int *nops)
{
#if CUDNN_VERSION >= 91301
    const loom_sdpa_key &k = p->key;
    const cudnnDataType_t io = io_type(k);
    cudnnBackendDescriptor_t q = nullptr, kk = nullptr, v = nullptr, o = nullptr, scale = nullptr, op = nullptr;
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_Q, io, bshd(k.b, k.heads, k.sq, k.d), false, false, &q));
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_K, io, bshd(k.b, k.heads, k.sk, k.d), false, false, &kk));
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_V, io, bshd(k.b, k.heads, k.sk, k.dv), false, false, &v));
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_O, io, bshd(k.b, k.heads, k.sq, k.dv), false, false, &o));
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_SCALE, CUDNN_DATA_FLOAT, kScalar, false, true, &scale));
    LOOM_TRY(make(p, CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, &op));
    LOOM_TRY(set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, q));
    LOOM_TRY(set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, kk)); /* K itself, not Kᵀ */
    LOOM_TRY(set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, v));
    LOOM_TRY(set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, o));
    LOOM_TRY(set_desc(op, CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, scale));
    CUDNN_CHECK(cudnnBackendFinalize(op));
    ops[0] = op;
    *nops = 1;
    return LOOM_OK;
#else
    (void)ops;
    (void)nops;
    (void)p;
    return loom_fail(LOOM_E_UNSUPPORTED, "built with cuDNN %d headers: the SDPA operation needs 9.13.1",
                     (int)CUDNN_VERSION);
#endif
}

loom_status graph_composite(loom_sdpa_plan *p, cudnnBackendDescriptor_t *ops, int *nops)
{
    const loom_sdpa_key &k = p->key;
    const int64_t b = k.b, h = k.heads, sq = k.sq, sk = k.sk;
    const layout scores = {{b, h, sq, sk}, {h * sq * sk, sq * sk, sk, 1}}; /* packed, as the frontend's */
    const layout rows = {{b, h, sq, 1}, {h * sq, sq, 1, 1}};
    const cudnnDataType_t io = io_type(k), f32 = CUDNN_DATA_FLOAT; /* I/O and P: f16 or bf16 */
    cudnnBackendDescriptor_t q = nullptr, kt = nullptr, v = nullptr, o = nullptr, scale = nullptr, s = nullptr;
    cudnnBackendDescriptor_t scaled = nullptr, mx = nullptr, sub = nullptr, ex = nullptr, sum = nullptr, prob = nullptr;
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_Q, io, bshd(b, h, sq, k.d), false, false, &q));
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_K, io, transposed_k(b, h, sk, k.d), false, false, &kt));
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_V, io, bshd(b, h, sk, k.dv), false, false, &v));
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_O, io, bshd(b, h, sq, k.dv), false, false, &o));
    LOOM_TRY(tensor(p, LOOM_SDPA_UID_SCALE, f32, kScalar, false, true, &scale));
    LOOM_TRY(tensor(p, kUidS, f32, scores, true, false, &s));
    LOOM_TRY(tensor(p, kUidScaled, f32, scores, true, false, &scaled));
    LOOM_TRY(tensor(p, kUidMax, f32, rows, true, false, &mx));
    LOOM_TRY(tensor(p, kUidSub, f32, scores, true, false, &sub));
    LOOM_TRY(tensor(p, kUidExp, f32, scores, true, false, &ex));
    LOOM_TRY(tensor(p, kUidSum, f32, rows, true, false, &sum));
    LOOM_TRY(tensor(p, kUidP, io, scores, true, false, &prob));

    int n = 0;
    LOOM_TRY(matmul(p, "Q*K^T", q, kt, s, &ops[n++]));
    LOOM_TRY(pointwise(p, "scale", CUDNN_POINTWISE_MUL, f32, -1, s, scale, nullptr, scaled, &ops[n++]));
    cudnnBackendDescriptor_t logits = scaled; /* the softmax's input */
    if (k.causal) {
        cudnnBackendDescriptor_t neg_inf = nullptr, row = nullptr, col = nullptr, keep = nullptr, masked = nullptr;
        LOOM_TRY(tensor(p, LOOM_SDPA_UID_NEG_INF, f32, kScalar, false, true, &neg_inf));
        LOOM_TRY(tensor(p, kUidRow, CUDNN_DATA_INT32, scores, true, false, &row));
        LOOM_TRY(tensor(p, kUidCol, CUDNN_DATA_INT32, scores, true, false, &col));
        LOOM_TRY(tensor(p, kUidKeep, CUDNN_DATA_BOOLEAN, scores, true, false, &keep));
        LOOM_TRY(tensor(p, kUidMasked, f32, scores, true, false, &masked));
        LOOM_TRY(pointwise(p, "row index", CUDNN_POINTWISE_GEN_INDEX, f32, 2, scaled, nullptr, nullptr, row,
                           &ops[n++]));
        LOOM_TRY(pointwise(p, "col index", CUDNN_POINTWISE_GEN_INDEX, f32, 3, scaled, nullptr, nullptr, col,
                           &ops[n++]));
        LOOM_TRY(pointwise(p, "row >= col", CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, -1, row, col, nullptr, keep,
                           &ops[n++]));
        /* y = t ? x : b: keys at or before the query keep their score */
        LOOM_TRY(pointwise(p, "causal select", CUDNN_POINTWISE_BINARY_SELECT, f32, -1, scaled, neg_inf, keep, masked,
                           &ops[n++]));
        logits = masked;
    }
    LOOM_TRY(reduction(p, "max", CUDNN_REDUCE_TENSOR_MAX, logits, mx, &ops[n++]));
    LOOM_TRY(pointwise(p, "sub max", CUDNN_POINTWISE_SUB, f32, -1, logits, mx, nullptr, sub, &ops[n++]));
    LOOM_TRY(pointwise(p, "exp", CUDNN_POINTWISE_EXP, f32, -1, sub, nullptr, nullptr, ex, &ops[n++]));
    LOOM_TRY(reduction(p, "sum", CUDNN_REDUCE_TENSOR_ADD, ex, sum, &ops[n++]));
    LOOM_TRY(pointwise(p, "div sum", CUDNN_POINTWISE_DIV, f32, -1, ex, sum, nullptr, prob, &ops[n++]));
    LOOM_TRY(matmul(p, "P*V", prob, v, o, &ops[n++]));
    *nops = n;
    return LOOM_OK;
}

/* The plan for one engine config: finalized, workspace within the limit. */
loom_status plan_finalize(cudnnHandle_t h, cudnnBackendDescriptor_t cfg, cudnnBackendDescriptor_t plan, int64_t *ws)
{
    CUDNN_CHECK(cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h));
    CUDNN_CHECK(cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                         1, &cfg));
    CUDNN_CHECK(cudnnBackendFinalize(plan));
    int64_t n = 0;
    CUDNN_CHECK(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n, ws));
    if (*ws < 0 || *ws > kMaxWorkspace)
        return loom_fail(LOOM_E_UNSUPPORTED, "the engine wants %lld bytes of workspace (at most %lld taken)",
                         (long long)*ws, (long long)kMaxWorkspace);
    return LOOM_OK;
}

loom_status plan_from(cudnnHandle_t h, cudnnBackendDescriptor_t cfg, cudnnBackendDescriptor_t *out, int64_t *ws)
{
    cudnnBackendDescriptor_t plan = nullptr;
    CUDNN_CHECK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan));
    const loom_status s = plan_finalize(h, cfg, plan, ws);
    if (s != LOOM_OK) {
        (void)cudnnBackendDestroyDescriptor(plan);
        return s;
    }
    *out = plan;
    return LOOM_OK;
}

/* The heuristics' configs in their order; the first that makes a plan goes
 * into p (its config joins p->keep). cfg[] holds what is created here; the
 * caller destroys whatever is left in it. */
loom_status configs_try(cudnnHandle_t h, cudnnBackendDescriptor_t heur, int64_t want, cudnnBackendDescriptor_t *cfg,
                        loom_sdpa_plan *p)
{
    for (int64_t i = 0; i < want; i++)
        CUDNN_CHECK(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &cfg[i]));
    int64_t got = 0;
    CUDNN_CHECK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, want,
                                         &got, cfg));
    if (got > want) got = want;
    char first[400] = "";
    for (int64_t i = 0; i < got; i++) {
        cudnnBackendDescriptor_t plan = nullptr;
        int64_t ws = 0;
        const loom_status s = plan_from(h, cfg[i], &plan, &ws);
        if (s == LOOM_OK) {
            if (p->nkeep == kLoomSdpaKeep) {
                (void)cudnnBackendDestroyDescriptor(plan);
                return loom_fail(LOOM_E_NOMEM, "no room to keep the engine config");
            }
            p->keep[p->nkeep++] = cfg[i];
            cfg[i] = nullptr;
            p->plan = plan;
            p->ws_bytes = ws;
            return LOOM_OK;
        }
        if (!first[0]) snprintf(first, sizeof first, "config %lld: %s", (long long)i, loom_last_error());
    }
    if (got <= 0) return loom_fail(LOOM_E_UNSUPPORTED, "no engine config offered");
    return loom_fail(LOOM_E_UNSUPPORTED, "none of %lld engine configs makes a plan (%s)", (long long)got, first);
}

loom_status heuristics_try(cudnnHandle_t h, cudnnBackendDescriptor_t graph, cudnnBackendHeurMode_t mode,
                           loom_sdpa_plan *p)
{
    cudnnBackendDescriptor_t heur = nullptr;
    LOOM_TRY(make(p, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur));
    LOOM_TRY(set_desc(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph));
    CUDNN_CHECK(cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode));
    CUDNN_CHECK(cudnnBackendFinalize(heur));
    int64_t avail = 0;
    CUDNN_CHECK(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                         &avail, nullptr));
    if (avail <= 0) return loom_fail(LOOM_E_UNSUPPORTED, "no engine config offered");
    const int64_t want = avail < kMaxConfigs ? avail : kMaxConfigs;
    cudnnBackendDescriptor_t cfg[kMaxConfigs] = {};
    const loom_status s = configs_try(h, heur, want, cfg, p);
    for (int i = 0; i < kMaxConfigs; i++)
        if (cfg[i]) (void)cudnnBackendDestroyDescriptor(cfg[i]);
    return s;
}

loom_status build(cudnnHandle_t h, int path, loom_sdpa_plan *p)
{
    cudnnBackendDescriptor_t ops[kMaxOps] = {};
    int nops = 0;
    if (path == LOOM_VENDOR_ATTN_CUDNN_SDPA) {
        if (p->key.causal) return loom_fail(LOOM_E_UNSUPPORTED, "the SDPA operation takes no mask before cuDNN 9.21");
        LOOM_TRY(graph_sdpa_op(p, ops, &nops));
    } else {
        LOOM_TRY(graph_composite(p, ops, &nops));
    }
    cudnnBackendDescriptor_t graph = nullptr;
    LOOM_TRY(make(p, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &graph));
    CUDNN_CHECK(cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h));
    CUDNN_CHECK(
        cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, nops, ops));
    CUDNN_CHECK(cudnnBackendFinalize(graph));
    /* mode A first (the frontend's default for SDPA), FALLBACK second */
    const loom_status a = heuristics_try(h, graph, CUDNN_HEUR_MODE_A, p);
    if (a == LOOM_OK) return LOOM_OK;
    char first[512];
    snprintf(first, sizeof first, "%s", loom_last_error());
    if (heuristics_try(h, graph, CUDNN_HEUR_MODE_FALLBACK, p) == LOOM_OK) return LOOM_OK;
    return loom_fail(LOOM_E_UNSUPPORTED, "heuristics mode A: %s", first);
}

} // namespace

loom_status loom_sdpa_build(cudnnHandle_t h, int path, loom_sdpa_plan *p)
{
    const loom_status s = build(h, path, p);
    if (s == LOOM_OK) {
        p->path = path;
        return s;
    }
    /* cuDNN's own account of the failure, when it left one */
    char detail[256] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    for (char *c = detail; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    return detail[0] ? loom_fail_wrap(s, "%s graph (cuDNN says: %s)",
                                      path == LOOM_VENDOR_ATTN_CUDNN_SDPA ? "SDPA" : "composite", detail)
                     : loom_fail_wrap(s, "%s graph", path == LOOM_VENDOR_ATTN_CUDNN_SDPA ? "SDPA" : "composite");
}

void loom_sdpa_clear(loom_sdpa_plan *p)
{
    if (p->plan) (void)cudnnBackendDestroyDescriptor(p->plan);
    p->plan = nullptr;
    for (int i = p->nkeep - 1; i >= 0; i--) (void)cudnnBackendDestroyDescriptor(p->keep[i]);
    memset(p->keep, 0, sizeof p->keep);
    p->nkeep = 0;
    p->ready = 0;
    p->ws_bytes = 0;
}
