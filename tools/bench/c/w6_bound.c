/*
 * W6's bound in plain C: one-sample predict of a 784-512-512-10 ReLU MLP,
 * f32, AVX2 + FMA, the way nn's one-sample paths read memory: the first
 * layer row by row (row-major weight, 1.6 MB), the second layer only the
 * columns of nonzero inputs (column-major copy), the third row by row.
 * BENCHMARKS.md ("AVX2") quotes its medians; it is not part of any build.
 *
 *   gcc -O3 -march=x86-64-v3 -o /tmp/w6_bound tools/bench/c/w6_bound.c -lm
 *   /tmp/w6_bound 0          # no software prefetch
 *   /tmp/w6_bound 3072       # prefetchnta 3072 bytes ahead in the first layer
 *   FLUSH_L2=1 /tmp/w6_bound 3072   # read 2 MB of other data between calls
 *
 * Prints the median and minimum of 20,000 calls and each layer's mean.
 */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IN 784
#define HID 512
#define OUT 10
#define CALLS 20000

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float hsum(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_shuffle_ps(a, a, 1));
    return _mm_cvtss_f32(a);
}

/* y = W x + b, W row-major rows x cols (cols a multiple of 8), rows on cache lines. */
static void rows_dot(const float *w, const float *x, int rows, int cols, const float *b, float *y, int ahead) {
    const char *end = (const char *)(w + (size_t)rows * cols);
    for (int o = 0; o < rows; o++) {
        const float *p = w + (size_t)o * cols;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i + 32 <= cols; i += 32) {
            if (ahead) {
                const char *f = (const char *)(p + i) + ahead;
                if (f < end) {
                    _mm_prefetch(f, _MM_HINT_NTA);
                    _mm_prefetch(f + 64, _MM_HINT_NTA);
                }
            }
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(p + i), _mm256_load_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + i + 8), _mm256_load_ps(x + i + 8), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(p + i + 16), _mm256_load_ps(x + i + 16), s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(p + i + 24), _mm256_load_ps(x + i + 24), s3);
        }
        for (; i < cols; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(p + i), _mm256_load_ps(x + i), s0);
        y[o] = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + b[o];
    }
}

static void relu(float *v, int n) {
    for (int i = 0; i < n; i++) v[i] = v[i] > 0 ? v[i] : 0;
}

/* y += A x over the columns of nonzero x[j], four columns per pass; A column-major, m rows. */
static void nonzero_cols(const float *a, const float *x, int n, int m, float *y) {
    int idx[HID], k = 0;
    for (int j = 0; j < n; j++)
        if (x[j] != 0) idx[k++] = j;
    int g = 0;
    for (; g + 4 <= k; g += 4) {
        const float *c[4];
        __m256 s[4];
        for (int l = 0; l < 4; l++) {
            c[l] = a + (size_t)idx[g + l] * m;
            s[l] = _mm256_set1_ps(x[idx[g + l]]);
        }
        for (int i = 0; i < m; i += 8) {
            __m256 v = _mm256_load_ps(y + i);
            for (int l = 0; l < 4; l++) v = _mm256_fmadd_ps(s[l], _mm256_load_ps(c[l] + i), v);
            _mm256_store_ps(y + i, v);
        }
    }
    for (; g < k; g++) {
        const float *c = a + (size_t)idx[g] * m;
        __m256 s = _mm256_set1_ps(x[idx[g]]);
        for (int i = 0; i < m; i += 8) _mm256_store_ps(y + i, _mm256_fmadd_ps(s, _mm256_load_ps(c + i), _mm256_load_ps(y + i)));
    }
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float uniform(void) { return (rand() / (float)RAND_MAX - 0.5f) * 0.1f; }

int main(int argc, char **argv) {
    int ahead = argc > 1 ? atoi(argv[1]) : 0;
    int flush = getenv("FLUSH_L2") != NULL;
    float *w1 = aligned_alloc(64, IN * HID * 4), *w2 = aligned_alloc(64, HID * HID * 4);
    float *w3 = aligned_alloc(64, HID * 16 * 4), *junk = aligned_alloc(64, 2 << 20);
    static float x[IN] __attribute__((aligned(64))), h1[HID] __attribute__((aligned(64)));
    static float h2[HID] __attribute__((aligned(64))), out[16], b1[HID], b2[HID], b3[16];
    srand(2);
    for (int i = 0; i < IN * HID; i++) w1[i] = uniform();
    for (int i = 0; i < HID * HID; i++) w2[i] = uniform();
    for (int i = 0; i < HID * OUT; i++) w3[i] = uniform();
    for (int i = 0; i < (1 << 19); i++) junk[i] = i;
    for (int i = 0; i < IN; i++) x[i] = sinf(i * 0.01f);
    static double times[CALLS];
    double first = 0, second = 0, sink = 0;
    for (int r = 0; r < CALLS; r++) {
        if (flush) {
            for (int i = 0; i < (1 << 19); i += 16) sink += junk[i];
        }
        double t0 = now();
        rows_dot(w1, x, HID, IN, b1, h1, ahead);
        relu(h1, HID);
        double t1 = now();
        memcpy(h2, b2, sizeof h2);
        nonzero_cols(w2, h1, HID, HID, h2);
        relu(h2, HID);
        double t2 = now();
        rows_dot(w3, h2, OUT, HID, b3, out, 0);
        times[r] = now() - t0;
        first += t1 - t0;
        second += t2 - t1;
    }
    int nonzero = 0;
    for (int j = 0; j < HID; j++) nonzero += h1[j] != 0;
    qsort(times, CALLS, sizeof times[0], by_value);
    printf("ahead %d%s: median %.2f us, min %.2f us; first layer %.2f us, second %.2f us (mean); %d of %d nonzero (%g)\n",
           ahead, flush ? ", L2 flushed" : "", times[CALLS / 2] * 1e6, times[0] * 1e6, first / CALLS * 1e6,
           second / CALLS * 1e6, nonzero, HID, out[3] + sink * 1e-30);
    return 0;
}
