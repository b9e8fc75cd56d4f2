# Test runner for MicroPython-only tests (no unittest on the unix port).
# Usage: micropython host_tests/mp/runner.py MODULE [MODULE ...]
# Each module defines test_* functions; prints one line per failure and "N passed, N failed".
import sys


def main(names):
    passed = failed = 0
    for name in names:
        mod = __import__(name)
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            try:
                getattr(mod, attr)()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAIL %s.%s: %s: %s" % (name, attr, type(e).__name__, e))
                sys.print_exception(e)
    print("%d passed, %d failed" % (passed, failed))
    return failed


sys.exit(1 if main(sys.argv[1:]) else 0)
