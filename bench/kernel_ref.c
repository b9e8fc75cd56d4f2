/* C reference of the sampling kernel for bench/kernel_bench.py: the algorithm of
 * firmware/measure/kernel.py (same state layout, same int32 split sums and carry folds, same
 * window logic), so the viper/C ratio measures code generation, not a different method.
 *
 * Usage: kernel_ref CODES_FILE CHANNELS PHASES FRAMES RUNS
 * CODES_FILE holds FRAMES * CHANNELS little-endian int32 codes. Each run scans the whole
 * signal in blocks of 400 frames from fresh state. Prints the best run time in ns, then the
 * final state words of every phase, of the neutral channel and the window count (to check
 * that C and viper agree bit for bit).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    CFG_STRIDE, CFG_CU, CFG_CI, CFG_RMASK, CFG_K, CFG_DETECT, CFG_DCB, CFG_HYST, CFG_MINF,
    CFG_MAXF, CFG_MINC, ST_W, ST_ARMED, ST_WPOS, ST_COUNT, ST_FPOS, ST_FA, ST_FB, ST_LPOS,
    ST_LA, ST_LB, ST_CLOSE, ACC
};
enum { A_SU, A_SI, A_UUH, A_UUM, A_UUL, A_IIH, A_IIM, A_IIL, A_P0H, A_P0M, A_P0L, A_QKH,
       A_QKM, A_QKL, A_Q1H, A_Q1M, A_Q1L, NACC };
#define HI (ACC + NACC)
#define SIZE (ACC + 2 * NACC)
#define RING 32
#define BLOCK 400

#define FOLD(v, n) do { st[HI + (n)] += (v) >> 29; (v) &= 0x1FFFFFFF; } while (0)

static int32_t phase_pass(const int32_t *buf, int32_t *st, int32_t *ring, int32_t start,
                          int32_t stop)
{
    int32_t stride = st[CFG_STRIDE], rm = st[CFG_RMASK], k = st[CFG_K];
    int32_t det = st[CFG_DETECT], dcb = st[CFG_DCB], nhyst = -st[CFG_HYST];
    int32_t minf = st[CFG_MINF], minc = st[CFG_MINC];
    int32_t w = st[ST_W], armed = st[ST_ARMED], wpos = st[ST_WPOS], cnt = st[ST_COUNT];
    int32_t lpos = st[ST_LPOS], close = 0;
    if (det) {
        int32_t room = st[CFG_MAXF] - wpos;
        if (stop - start > room)
            stop = start + room;
    }
    int32_t *a = st + ACC;
    int32_t su = a[A_SU], si = a[A_SI], uuh = a[A_UUH], uum = a[A_UUM], uul = a[A_UUL];
    int32_t iih = a[A_IIH], iim = a[A_IIM], iil = a[A_IIL];
    int32_t p0h = a[A_P0H], p0m = a[A_P0M], p0l = a[A_P0L];
    int32_t qkh = a[A_QKH], qkm = a[A_QKM], qkl = a[A_QKL];
    int32_t q1h = a[A_Q1H], q1m = a[A_Q1M], q1l = a[A_Q1L];
    int32_t b = ring[(w - k - 1) & rm];
    int32_t k1h = (b >> 12) - 2048, k1l = b & 4095;
    int32_t j = start;
    int32_t iu = start * stride + st[CFG_CU], ii = start * stride + st[CFG_CI];
    while (j < stop) {
        int32_t cend = j + 64;
        if (cend > stop)
            cend = stop;
        for (; j < cend; j++, iu += stride, ii += stride) {
            int32_t ub = (buf[iu] & 0xFFFFFF) ^ 0x800000;
            if (det) {
                int32_t x = ub - dcb;
                if (armed) {
                    if (x >= 0) {
                        armed = 0;
                        int32_t pos = wpos + j - start;
                        if (cnt == 0 || pos - lpos >= minc) {
                            int32_t xa = ring[(w - 1) & rm] - dcb;
                            cnt++;
                            if (cnt == 1) {
                                st[ST_FPOS] = pos;
                                st[ST_FA] = xa;
                                st[ST_FB] = x;
                            }
                            lpos = pos;
                            st[ST_LA] = xa;
                            st[ST_LB] = x;
                            if (pos >= minf) {
                                close = 1;
                                stop = j;
                                break;
                            }
                        }
                    }
                } else if (x < nhyst) {
                    armed = 1;
                }
            }
            int32_t ib = (buf[ii] & 0xFFFFFF) ^ 0x800000;
            ring[w] = ub;
            int32_t kb = ring[(w - k) & rm];
            w = (w + 1) & rm;
            int32_t uh = (ub >> 12) - 2048, ul = ub & 4095;
            int32_t ih = (ib >> 12) - 2048, il = ib & 4095;
            int32_t kh = (kb >> 12) - 2048, kl = kb & 4095;
            su += ub;
            si += ib;
            uuh += uh * uh;
            uum += uh * ul;
            uul += ul * ul;
            iih += ih * ih;
            iim += ih * il;
            iil += il * il;
            p0h += uh * ih;
            p0m += uh * il + ul * ih;
            p0l += ul * il;
            qkh += kh * ih;
            qkm += kh * il + kl * ih;
            qkl += kl * il;
            q1h += k1h * ih;
            q1m += k1h * il + k1l * ih;
            q1l += k1l * il;
            k1h = kh;
            k1l = kl;
        }
        FOLD(su, A_SU); FOLD(si, A_SI);
        FOLD(uuh, A_UUH); FOLD(uum, A_UUM); FOLD(uul, A_UUL);
        FOLD(iih, A_IIH); FOLD(iim, A_IIM); FOLD(iil, A_IIL);
        FOLD(p0h, A_P0H); FOLD(p0m, A_P0M); FOLD(p0l, A_P0L);
        FOLD(qkh, A_QKH); FOLD(qkm, A_QKM); FOLD(qkl, A_QKL);
        FOLD(q1h, A_Q1H); FOLD(q1m, A_Q1M); FOLD(q1l, A_Q1L);
    }
    a[A_SU] = su; a[A_SI] = si; a[A_UUH] = uuh; a[A_UUM] = uum; a[A_UUL] = uul;
    a[A_IIH] = iih; a[A_IIM] = iim; a[A_IIL] = iil;
    a[A_P0H] = p0h; a[A_P0M] = p0m; a[A_P0L] = p0l;
    a[A_QKH] = qkh; a[A_QKM] = qkm; a[A_QKL] = qkl;
    a[A_Q1H] = q1h; a[A_Q1M] = q1m; a[A_Q1L] = q1l;
    wpos += j - start;
    if (det && close == 0 && wpos >= st[CFG_MAXF])
        close = 2;
    st[ST_W] = w;
    st[ST_ARMED] = armed;
    st[ST_WPOS] = wpos;
    st[ST_COUNT] = cnt;
    st[ST_LPOS] = lpos;
    st[ST_CLOSE] = close;
    return j;
}

static int32_t rms_pass(const int32_t *buf, int32_t *st, int32_t start, int32_t stop)
{
    int32_t stride = st[CFG_STRIDE];
    int32_t *a = st + ACC;
    int32_t si = a[A_SI], iih = a[A_IIH], iim = a[A_IIM], iil = a[A_IIL];
    int32_t j = start, ii = start * stride + st[CFG_CI];
    while (j < stop) {
        int32_t cend = j + 64;
        if (cend > stop)
            cend = stop;
        for (; j < cend; j++, ii += stride) {
            int32_t ib = (buf[ii] & 0xFFFFFF) ^ 0x800000;
            int32_t ih = (ib >> 12) - 2048, il = ib & 4095;
            si += ib;
            iih += ih * ih;
            iim += ih * il;
            iil += il * il;
        }
        FOLD(si, A_SI); FOLD(iih, A_IIH); FOLD(iim, A_IIM); FOLD(iil, A_IIL);
    }
    a[A_SI] = si; a[A_IIH] = iih; a[A_IIM] = iim; a[A_IIL] = iil;
    st[ST_WPOS] += stop - start;
    return stop;
}

/* measure/layout.py reset_window */
static void reset_window(int32_t *st)
{
    int carry = st[CFG_DETECT] && st[ST_CLOSE] == 1;
    memset(st + ACC, 0, 2 * NACC * sizeof *st);
    st[ST_WPOS] = 0;
    st[ST_CLOSE] = 0;
    if (carry) {
        st[ST_COUNT] = 1;
        st[ST_FPOS] = st[ST_LPOS] = 0;
        st[ST_FA] = st[ST_LA];
        st[ST_FB] = st[ST_LB];
    } else {
        st[ST_COUNT] = st[ST_FPOS] = st[ST_LPOS] = 0;
        st[ST_FA] = st[ST_LA] = st[ST_FB] = st[ST_LB] = 0;
    }
}

static void new_state(int32_t *st, int32_t stride, int32_t cu, int32_t ci, int32_t detect)
{
    memset(st, 0, SIZE * sizeof *st);
    st[CFG_STRIDE] = stride;
    st[CFG_CU] = cu;
    st[CFG_CI] = ci;
    st[CFG_RMASK] = RING - 1;
    st[CFG_DETECT] = detect;
    st[CFG_DCB] = 0x800000;
    if (detect) {
        st[CFG_HYST] = 1 << 17;
        st[CFG_MINF] = 780;
        st[CFG_MAXF] = 1000;
        st[CFG_MINC] = 53;
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s CODES CHANNELS PHASES FRAMES RUNS\n", argv[0]);
        return 2;
    }
    int nch = atoi(argv[2]), phases = atoi(argv[3]), frames = atoi(argv[4]);
    int runs = atoi(argv[5]);
    int32_t *codes = malloc((size_t)frames * nch * sizeof *codes);
    FILE *f = fopen(argv[1], "rb");
    if (!f || fread(codes, sizeof *codes, (size_t)frames * nch, f) != (size_t)frames * nch) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    int32_t st[3][SIZE], stn[SIZE], ring[3][RING];
    long windows = 0;
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        for (int p = 0; p < phases; p++) {
            new_state(st[p], nch, 2 * p, 2 * p + 1, p == 0);
            st[p][CFG_K] = 20;
            for (int n = 0; n < RING; n++)
                ring[p][n] = 0x800000;
        }
        new_state(stn, nch, 0, nch - 1, 0);
        windows = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int b = 0; b < frames; b += BLOCK) {
            const int32_t *block = codes + (size_t)b * nch;
            int32_t n = frames - b < BLOCK ? frames - b : BLOCK, start = 0;
            while (start < n) {
                int32_t end = phase_pass(block, st[0], ring[0], start, n);
                for (int p = 1; p < phases; p++)
                    phase_pass(block, st[p], ring[p], start, end);
                rms_pass(block, stn, start, end);
                if (st[0][ST_CLOSE]) {
                    windows++;
                    int64_t su = ((int64_t)st[0][HI + A_SU] << 29) + st[0][ACC + A_SU];
                    st[0][CFG_DCB] = (int32_t)(su / st[0][ST_WPOS]);
                    for (int p = 0; p < phases; p++)
                        reset_window(st[p]);
                    reset_window(stn);
                }
                start = end;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
        if (ns < best)
            best = ns;
    }
    printf("%.0f\n", best);
    for (int p = 0; p < phases; p++)
        for (int n = 0; n < SIZE; n++)
            printf("%d%c", st[p][n], n == SIZE - 1 ? '\n' : ' ');
    for (int n = 0; n < SIZE; n++)
        printf("%d%c", stn[n], n == SIZE - 1 ? '\n' : ' ');
    printf("%ld\n", windows);
    free(codes);
    return 0;
}
