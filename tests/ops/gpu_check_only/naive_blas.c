/* naive_blas.c — see cblas.h in this folder (LOOM_GPU_CHECK_ONLY without
 * OpenBLAS). C = alpha·op(A)·op(B) + beta·C, row-major only (all loom
 * calls), sums in double so the reference is at least as accurate as
 * OpenBLAS's fp32 sums. Rows are split over a few threads and every inner
 * loop runs over contiguous memory, so SD-sized references take seconds,
 * not minutes, on the GPU machine's 16 cores. */
#define _POSIX_C_SOURCE 200809L
#include "cblas.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct job {
    enum CBLAS_TRANSPOSE ta, tb;
    int m, n, k, lda, ldb, ldc, i0, i1;
    float alpha, beta;
    const float *a, *b;
    float *c;
} job;

static void *rows(void *p)
{
    const job *J = p;
    double *acc = malloc((size_t)(J->n ? J->n : 1) * sizeof *acc);
    if (!acc) abort();
    for (int i = J->i0; i < J->i1; i++) {
        for (int j = 0; j < J->n; j++) acc[j] = 0;
        if (J->tb == CblasTrans) { /* B is [n, k]: dot products of rows */
            for (int j = 0; j < J->n; j++) {
                const float *bj = J->b + (size_t)j * J->ldb;
                double s = 0;
                for (int p2 = 0; p2 < J->k; p2++)
                    s += (double)(J->ta == CblasNoTrans ? J->a[(size_t)i * J->lda + p2] : J->a[(size_t)p2 * J->lda + i]) *
                         bj[p2];
                acc[j] = s;
            }
        } else { /* B is [k, n]: accumulate scaled rows of B */
            for (int p2 = 0; p2 < J->k; p2++) {
                const double av = J->ta == CblasNoTrans ? J->a[(size_t)i * J->lda + p2] : J->a[(size_t)p2 * J->lda + i];
                const float *bp = J->b + (size_t)p2 * J->ldb;
                for (int j = 0; j < J->n; j++) acc[j] += av * bp[j];
            }
        }
        float *ci = J->c + (size_t)i * J->ldc;
        for (int j = 0; j < J->n; j++) /* beta 0: C may hold garbage, never read it */
            ci[j] = (float)(J->alpha * acc[j] + (J->beta != 0.0f ? (double)J->beta * ci[j] : 0.0));
    }
    free(acc);
    return NULL;
}

void openblas_set_num_threads(int n) { (void)n; }

void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
                 float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (order != CblasRowMajor) {
        fprintf(stderr, "naive cblas_sgemm: column-major is not implemented\n");
        abort();
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = cores < 1 ? 1 : cores > 16 ? 16 : (int)cores;
    if ((double)m * n * k < 1e6 || m < nt) nt = 1;
    job jobs[16];
    pthread_t th[16];
    for (int t = 0; t < nt; t++) {
        jobs[t] = (job){ta, tb, m, n, k, lda, ldb, ldc, (int)((long)m * t / nt), (int)((long)m * (t + 1) / nt),
                        alpha, beta, a, b, c};
        if (t && pthread_create(&th[t], NULL, rows, &jobs[t]) != 0) abort();
    }
    rows(&jobs[0]);
    for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
}
