"""Print the time as the application reads it (a child for tests/test_suite_clock.py)."""

from core.clock import utcnow

if __name__ == "__main__":
    print(utcnow().isoformat())
