#!/usr/bin/env python3
"""Energy error matrix of the metrology against the exact integral of synthetic signals.

Run with `.venv/bin/python bench/accuracy.py`. For each current (1 % Ib .. Imax) and power
factor, the table gives the largest |error| of the registered active (P) and reactive (Q)
energy over 45 / 50 / 50.5 / 65 Hz and over sinusoidal and 40 % THD currents (5 % THD
voltage). Reactive errors are relative to Q, or to S at PF 1. The reference kernel runs here
(CPython); the viper kernel gives bit-identical sums (host_tests/test_measure_kernel.py).
Goals: active <= 0.02 %, reactive <= 0.1 %. Bounded to well under 60 s.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "firmware")]

import waveform as wf  # noqa: E402
from measure.metrology import Metrology  # noqa: E402
from measure.rating import I_PEAK_MA, U_PEAK_MV, for_model  # noqa: E402

SECONDS = 1.5
CURRENTS = ((50, "1 % Ib"), (250, "5 % Ib"), (500, "10 % Ib"), (5000, "Ib"), (85000, "Imax"))
PFS = ((0.0, "PF 1"), (60.0, "PF 0.5 ind"), (-36.87, "PF 0.8 cap"))
FREQS = (45.0, 50.0, 50.5, 65.0)
I_HARM = ((3, 0.30, 10.0), (5, 0.20, 40.0), (7, 0.15, 70.0), (9, 0.10, 100.0))
U_HARM = ((3, 0.04, 20.0), (5, 0.03, 50.0))
GOAL_P = 0.02
GOAL_Q = 0.1


def case(bits, noise, i_ma, phi, f, thd):
    rating = for_model("me382")
    waves = wf.phase_set(1, 230000, i_ma, phi, U_HARM if thd else (), I_HARM if thd else ())
    m = Metrology(rating, 4000, bits, U_PEAK_MV, I_PEAK_MA)
    recs, ep, eq, secs = wf.run(m, waves, [U_PEAK_MV, I_PEAK_MA, I_PEAK_MA], f, bits, SECONDS,
                                noise)
    return wf.energy_errors(m, ep, eq, waves, secs)


def table(bits, noise, title):
    print("%s (%d-bit codes, front-end noise %s LSB rms)" % (title, bits, noise))
    print("  %-9s" % "current" + "".join("  %-17s" % name for _, name in PFS))
    print("  %-9s" % "" + "  P %      Q %     " * len(PFS))
    worst_p = worst_q = 0.0
    for i_ma, name in CURRENTS:
        cells = []
        for phi, _ in PFS:
            ep = eq = 0.0
            for f in FREQS:
                for thd in (False, True):
                    p, q = case(bits, noise, i_ma, phi, f, thd)
                    ep = max(ep, abs(p))
                    eq = max(eq, abs(q))
            cells.append("  %-8.4f %-8.4f" % (ep, eq))
            worst_p = max(worst_p, ep)
            worst_q = max(worst_q, eq)
        print("  %-9s" % name + "".join(cells))
    return worst_p, worst_q


def main():
    print(__doc__.split("\n\n")[0].split("\n")[0])
    print("ME382 230 V 5(85) A, 4000 frames/s, %.1f s per case\n" % SECONDS)
    p, q = table(24, 0, "Algorithm")
    print("  goals (active <= %.2f %%, reactive <= %.1f %%): active %.4f %% %s, "
          "reactive %.4f %% %s\n" % (GOAL_P, GOAL_Q, p, "met" if p <= GOAL_P else "NOT met",
                                      q, "met" if q <= GOAL_Q else "NOT met"))
    table(24, 64, "With a realistic 24-bit front end")
    print("  (the low-current rows are the noise of %.1f s of signal, not a bias)\n" % SECONDS)
    table(16, 0.3, "16-bit front end")


if __name__ == "__main__":
    main()
