// Times libdeepseek_cpu's GEMMs outside .NET, over many distinct weight matrices so they stream from DRAM as a MoE
// layer's experts do; two threads split the weight rows as CpuBackend's MatMul does. Best of 5 rounds.
//
//   cc -O3 -march=native -I native/cpu benchmarks/NativeCpu/gemm_bench.c native/cpu/gemm_bf16.c native/cpu/gemm_fp8.c -o /tmp/gemm_bench -lpthread
//   /tmp/gemm_bench bf16|fp8 ROWS K N MATRICES [THREADS]      e.g.  /tmp/gemm_bench bf16 8 2048 1408 64
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ds_gemm_bf16(const uint16_t* xb, int m, int k, long ldx, const uint16_t* w, long ldw,
                  const float* bias, float* out, long ldo, int j0, int j1);
void ds_gemm_fp8(const uint16_t* xb, int m, int k, long ldx, const uint8_t* w, long ldw, const float* scales, int gridCols,
                 int blockRows, int blockCols, const float* bias, float* out, long ldo, int j0, int j1);

enum { Rounds = 5 };
static int g_fp8, g_m, g_k, g_n, g_mats, g_threads;
static void** g_w;
static uint16_t* g_x;
static float *g_out, *g_scales;
static pthread_barrier_t g_bar;

static void run(long part)
{
    int j0 = (int)((long)g_n * part / g_threads), j1 = (int)((long)g_n * (part + 1) / g_threads);
    for (int i = 0; i < g_mats; i++)
        if (g_fp8) ds_gemm_fp8(g_x, g_m, g_k, g_k, g_w[i], g_k, g_scales, (g_k + 127) / 128, 128, 128, 0, g_out, g_n, j0, j1);
        else ds_gemm_bf16(g_x, g_m, g_k, g_k, g_w[i], g_k, 0, g_out, g_n, j0, j1);
}

static void* worker(void* part)
{
    for (int r = 0; r < Rounds; r++)
    {
        pthread_barrier_wait(&g_bar);
        run((long)part);
        pthread_barrier_wait(&g_bar);
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char** argv)
{
    if (argc < 6 || (strcmp(argv[1], "bf16") && strcmp(argv[1], "fp8")))
    {
        fprintf(stderr, "usage: %s bf16|fp8 ROWS K N MATRICES [THREADS]\n", argv[0]);
        return 2;
    }
    g_fp8 = !strcmp(argv[1], "fp8");
    g_m = atoi(argv[2]), g_k = atoi(argv[3]), g_n = atoi(argv[4]), g_mats = atoi(argv[5]);
    g_threads = argc > 6 ? atoi(argv[6]) : 2;
    if (g_m < 1 || g_k < 32 || g_k % 32 || g_n < 1 || g_mats < 1 || g_threads < 1 || g_threads > 64)
    {
        fprintf(stderr, "ROWS, N, MATRICES ≥ 1; K a multiple of 32; 1..64 threads\n");
        return 2;
    }
    size_t bytes = (size_t)g_n * g_k * (g_fp8 ? 1 : 2);
    g_w = malloc(sizeof(void*) * g_mats);
    for (int i = 0; i < g_mats; i++)
    {
        uint8_t* w = aligned_alloc(64, (bytes + 63) / 64 * 64);
        for (size_t z = 0; z < bytes; z++) w[z] = (uint8_t)(g_fp8 ? 0x30 + z % 7 : (z & 1 ? 0x3F : 0x80 + z % 7));
        g_w[i] = w;
    }
    g_scales = malloc(sizeof(float) * ((g_n + 127) / 128) * ((g_k + 127) / 128));
    for (int i = 0; i < ((g_n + 127) / 128) * ((g_k + 127) / 128); i++) g_scales[i] = 0x1p120f / 448;
    g_x = aligned_alloc(64, (size_t)g_m * g_k * 2);
    for (size_t z = 0; z < (size_t)g_m * g_k; z++) g_x[z] = (uint16_t)(0x3F00 + z % 5);
    g_out = aligned_alloc(64, ((size_t)g_m * g_n * 4 + 63) / 64 * 64);

    pthread_barrier_init(&g_bar, 0, (unsigned)g_threads);
    pthread_t threads[64];
    for (long p = 1; p < g_threads; p++) pthread_create(&threads[p], 0, worker, (void*)p);
    double best = 1e9;
    for (int r = 0; r < Rounds; r++)
    {
        pthread_barrier_wait(&g_bar);
        double t0 = now();
        run(0);
        pthread_barrier_wait(&g_bar);
        if (now() - t0 < best) best = now() - t0;
    }
    for (long p = 1; p < g_threads; p++) pthread_join(threads[p], 0);
    printf("%s rows=%d k=%d n=%d matrices=%d threads=%d: %.2f ms, %.1f GB/s of weights, %.1f GFLOP/s\n", argv[1], g_m, g_k,
           g_n, g_mats, g_threads, best * 1e3, (double)g_mats * bytes / best / 1e9, 2.0 * g_mats * g_n * g_k * g_m / best / 1e9);
    return 0;
}
