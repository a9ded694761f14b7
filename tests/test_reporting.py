"""The reporting cadence: cheap rounds are reported every k-th step, the last always."""

import time

from aimauto_nb.runtime.reporting import Cadence


def test_cheap_rounds_are_reported_every_few_steps_and_the_last_one_always():
    reported = []

    def report(value, step):
        time.sleep(0.0005)  # a report that costs far more than a round
        reported.append(step)

    c = Cadence(report, share=0.02)
    for step in range(1, 201):
        c(0.5, step, last=step == 200)
    assert reported[0] == 1 and reported[-1] == 200
    assert 2 <= len(reported) < 50
    assert c.every > 1


def test_expensive_rounds_are_reported_every_step():
    reported = []
    c = Cadence(lambda v, s: reported.append(s), share=0.02)
    for step in range(1, 21):
        time.sleep(0.002)  # a slow round
        c(0.5, step, last=step == 20)
    assert reported == list(range(1, 21))
