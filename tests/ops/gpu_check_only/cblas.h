/* cblas.h — LOOM_GPU_CHECK_ONLY builds on a machine without OpenBLAS only
 * (CMakeLists.txt): the two CBLAS entry points loom's CPU reference ops use,
 * backed by naive_blas.c. The CPU ops then serve as the backend-ops test's
 * fp32 reference at plain-loop speed; results are the same function, with a
 * different (fixed, sequential) summation order than OpenBLAS. */
#ifndef LOOM_NAIVE_CBLAS_H
#define LOOM_NAIVE_CBLAS_H

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
                 float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);

#endif
