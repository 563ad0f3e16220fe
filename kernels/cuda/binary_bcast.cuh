/* binary_bcast.cuh — the body of add.cu and mul.cu: y = a ⊕ b with b
 * broadcast to a's shape exactly as the CPU op allows (kernels/cpu/binary.c):
 * numpy rules aligned on trailing dims, b->ndim ≤ a->ndim, each of b's dims
 * equal to a's or 1 — b may be a's shape, [C], [1,1,1,C], [N,1,1,C] (the
 * time embedding on NHWC maps), [1], …. fp32 math, one rounding to the storage type.
 * In place: y == a always; y == b when b has a's element count.
 *
 * One thread per V consecutive elements of a's innermost dim (V = 8/4/2/1
 * where that dim and the pointers allow, so a vector never crosses a row).
 * Same element count (b is a's shape up to 1s): flat indexing. Otherwise the
 * thread splits its flat index into a's 4 (left-padded) coordinates and sums
 * b's strides, 0 on broadcast dims; when b's innermost stride is 0 one b
 * value serves the whole vector. Limits: a has ≤ INT_MAX elements.
 * a, b, y: one dtype, f16 or bf16 (the kernel is a template on it). */
#ifndef LOOM_CUDA_BINARY_BCAST_CUH
#define LOOM_CUDA_BINARY_BCAST_CUH

#include "misc_common.cuh"

namespace loom_misc {

enum { BIN_ADD, BIN_MUL };

/* a's dims 1..3 and b's element strides (0 where b broadcasts), padded to 4 dims. */
struct bcast {
    unsigned as1, as2, as3;
    unsigned bst0, bst1, bst2, bst3;
};

template <int OP> __device__ __forceinline__ float bin(float a, float b)
{
    if constexpr (OP == BIN_ADD) return a + b;
    else return a * b;
}

template <class T, int OP, int V, bool FULL>
__global__ void __launch_bounds__(kThreads) binary_kernel(const T *a, const T *b, T *y, unsigned nvec, bcast s)
{
    const int64_t idx = (int64_t)blockIdx.x * kThreads + threadIdx.x;
    if (idx >= nvec) return;
    const unsigned e = (unsigned)idx * V;
    float fa[V], fb[V];
    load<V>(a + e, fa);
    if (FULL) {
        load<V>(b + e, fb);
    } else {
        const unsigned i3 = e % s.as3, t = e / s.as3, i2 = t % s.as2, t2 = t / s.as2, i1 = t2 % s.as1,
                       i0 = t2 / s.as1;
        const unsigned boff = i0 * s.bst0 + i1 * s.bst1 + i2 * s.bst2 + i3 * s.bst3; /* < numel(b) */
        if (s.bst3) { /* b runs along the row: i3 % V == 0 and bst3 == 1, so boff is V-aligned */
            load<V>(b + boff, fb);
        } else {
            const float bv = loom_dt::to_float(b[boff]);
#pragma unroll
            for (int k = 0; k < V; k++) fb[k] = bv;
        }
    }
#pragma unroll
    for (int k = 0; k < V; k++) fa[k] = bin<OP>(fa[k], fb[k]);
    store<V>(y + e, fa);
}

template <class T, int OP, int V, bool FULL>
loom_status binary_launch(const T *a, const T *b, T *y, int64_t n, const bcast &s)
{
    const int64_t nvec = n / V;
    binary_kernel<T, OP, V, FULL><<<blocks_for(nvec), kThreads>>>(a, b, y, (unsigned)nvec, s);
    LOOM_LAUNCH_CHECK(OP == BIN_ADD ? "binary_kernel<add>" : "binary_kernel<mul>");
    return LOOM_OK;
}

template <class T, int OP, bool FULL>
loom_status binary_vec(int v, const T *a, const T *b, T *y, int64_t n, const bcast &s)
{
    switch (v) {
    case 8: return binary_launch<T, OP, 8, FULL>(a, b, y, n, s);
    case 4: return binary_launch<T, OP, 4, FULL>(a, b, y, n, s);
    case 2: return binary_launch<T, OP, 2, FULL>(a, b, y, n, s);
    default: return binary_launch<T, OP, 1, FULL>(a, b, y, n, s);
    }
}

/* y[a's shape] = a ⊕ b[broadcast]; inner = a's innermost extent (the vector may not cross it) */
template <class T, int OP>
loom_status binary_run(const loom_tensor *a, const loom_tensor *b, loom_tensor *y, int64_t n, bool full,
                       int64_t inner, const bcast &s)
{
    const T *ad = (const T *)a->data, *bd = (const T *)b->data;
    T *yd = (T *)y->data;
    if (full) return binary_vec<T, OP, true>(pick_vec(n, ad, bd, yd), ad, bd, yd, n, s);
    return binary_vec<T, OP, false>(pick_vec(inner, ad, yd, s.bst3 ? bd : nullptr), ad, bd, yd, n, s);
}

/* The whole op: the CPU op's checks (in its order), then the launch. */
template <int OP> loom_status binary_op(const char *op, const loom_tensor *a, const loom_tensor *b, loom_tensor *y)
{
    LOOM_TRY(loom_cuda_check_tensor(op, "a", a));
    LOOM_TRY(loom_cuda_check_tensor(op, "b", b));
    LOOM_TRY(loom_cuda_check_tensor(op, "y", y));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "b", b, "a", a));
    LOOM_TRY(loom_cuda_check_same_dtype(op, "y", y, "a", a));
    LOOM_TRY(loom_cuda_check_shape(op, "y", y, a->ndim, a->shape));
    int64_t as[LOOM_MAX_DIMS], bs[LOOM_MAX_DIMS], bst[LOOM_MAX_DIMS];
    int ok = b->ndim <= a->ndim;
    for (int i = 0; i < LOOM_MAX_DIMS; i++) {
        const int ai = i - (LOOM_MAX_DIMS - a->ndim), bi = i - (LOOM_MAX_DIMS - b->ndim);
        as[i] = ai >= 0 ? a->shape[ai] : 1;
        bs[i] = bi >= 0 ? b->shape[bi] : 1;
        if (bs[i] != as[i] && bs[i] != 1) ok = 0;
    }
    if (!ok) {
        char s1[96], s2[96];
        return loom_fail(LOOM_E_INVALID, "%s: b %s does not broadcast to a %s", op, loom_shape_str(b, s1, sizeof s1),
                         loom_shape_str(a, s2, sizeof s2));
    }
    const int64_t n = loom_tensor_numel(a);
    const bool full = loom_tensor_numel(b) == n; /* then b is a's shape up to 1s: flat indices agree */
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "a", a, 1));
    LOOM_TRY(loom_cuda_check_alias(op, "y", y, "b", b, full));
    if (n == 0) return LOOM_OK;
    LOOM_TRY(loom_cuda_check_int(op, "a's element count", n));
    int64_t stride = 1;
    for (int i = LOOM_MAX_DIMS - 1; i >= 0; i--) {
        bst[i] = bs[i] == 1 ? 0 : stride;
        stride *= bs[i];
    }
    const bcast s = {(unsigned)as[1], (unsigned)as[2], (unsigned)as[3], (unsigned)bst[0], (unsigned)bst[1],
                     (unsigned)bst[2], (unsigned)bst[3]};
    if (a->dtype == LOOM_BF16) return binary_run<__nv_bfloat16, OP>(a, b, y, n, full, as[3], s);
    return binary_run<__half, OP>(a, b, y, n, full, as[3], s);
}

} // namespace loom_misc

#endif
