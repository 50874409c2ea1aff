"""Working days around the Vietnamese public holidays, each date written out and counted by hand.

The holidays are those of the pinned `holidays` package (pyproject.toml); the exceptions are the
administrator's table (WorkdayException): extra days off, and Saturdays worked in exchange.
"""

from __future__ import annotations

import datetime

import pytest

from db import models
from db.calendar import WorkingDays, add_months

D = datetime.date


@pytest.fixture
def cal():
    return WorkingDays({})


def test_tet_2021(cal):
    # off Wed 10/02 - Tue 16/02 (13-14 a weekend inside it); 20-21 the next weekend
    for day in range(10, 17):
        assert not cal.is_working_day(D(2021, 2, day))
    assert cal.is_working_day(D(2021, 2, 9))  # Tuesday before Tết
    # Wed 17 (1), Thu 18 (2), Fri 19 (3), Mon 22 (4), Tue 23 (5)
    assert cal.add(D(2021, 2, 9), 5) == D(2021, 2, 23)
    assert cal.add(D(2021, 2, 9), 1) == D(2021, 2, 17)
    assert cal.between(D(2021, 2, 9), D(2021, 2, 23)) == 5
    # and backwards: 5 working days before Tue 23/02 is Tue 09/02
    assert cal.add(D(2021, 2, 23), -5) == D(2021, 2, 9)


def test_tet_2026(cal):
    # off Mon 16 - Fri 20/02/2026, between the weekends 14-15 and 21-22
    for day in range(14, 23):
        assert not cal.is_working_day(D(2026, 2, day))
    # Fri 13/02 -> Mon 23 (1), Tue 24 (2), Wed 25 (3)
    assert cal.add(D(2026, 2, 13), 3) == D(2026, 2, 25)
    assert cal.between(D(2026, 2, 13), D(2026, 2, 23)) == 1
    assert cal.between(D(2026, 2, 12), D(2026, 2, 13)) == 1


def test_reunification_and_labour_day(cal):
    # 2021: Fri 30/04 off, Sat 01/05 falls on a weekend and Mon 03/05 is given instead
    assert not cal.is_working_day(D(2021, 4, 30))
    assert not cal.is_working_day(D(2021, 5, 3))
    assert cal.add(D(2021, 4, 29), 1) == D(2021, 5, 4)  # Thu 29/04 -> Tue 04/05
    # 2026: Thu 30/04 and Fri 01/05 off
    assert cal.add(D(2026, 4, 29), 1) == D(2026, 5, 4)  # Wed 29/04 -> Mon 04/05
    # 2026: Hùng Kings' day on Sun 26/04 is observed on Mon 27/04
    assert not cal.is_working_day(D(2026, 4, 27))
    assert cal.add(D(2026, 4, 24), 1) == D(2026, 4, 28)  # Fri 24/04 -> Tue 28/04
    # 2025: Fri 02/05 off, swapped for Saturday 26/04 (which the package does not mark worked)
    assert not cal.is_working_day(D(2025, 5, 2))
    assert cal.add(D(2025, 4, 29), 1) == D(2025, 5, 5)  # Tue 29/04 -> Mon 05/05


def test_national_day(cal):
    # 2021: Thu 02/09 and the day after, Fri 03/09
    assert cal.add(D(2021, 9, 1), 1) == D(2021, 9, 6)  # Wed 01/09 -> Mon 06/09
    # 2026: Tue 01/09 and Wed 02/09, and Mon 31/08 swapped for Saturday 22/08
    for day in (D(2026, 8, 31), D(2026, 9, 1), D(2026, 9, 2)):
        assert not cal.is_working_day(day)
    assert cal.add(D(2026, 8, 28), 1) == D(2026, 9, 3)  # Fri 28/08 -> Thu 03/09
    assert cal.between(D(2026, 8, 28), D(2026, 9, 4)) == 2


def test_an_exception_day_off_and_a_saturday_worked():
    cal = WorkingDays({D(2021, 3, 10): "off", D(2025, 4, 26): "work"})
    # Wed 10/03/2021 off: Tue 09/03 -> Thu 11/03
    assert cal.add(D(2021, 3, 9), 1) == D(2021, 3, 11)
    # Sat 26/04/2025 worked (in exchange for Fri 02/05): Fri 25/04 -> Sat 26/04
    assert cal.is_working_day(D(2025, 4, 26))
    assert cal.add(D(2025, 4, 25), 1) == D(2025, 4, 26)
    assert cal.add(D(2025, 4, 25), 2) == D(2025, 4, 28)  # then Mon 28/04
    # an exception may also take back a public holiday: worked on Tết is still a working day
    assert WorkingDays({D(2021, 2, 10): "work"}).add(D(2021, 2, 9), 1) == D(2021, 2, 10)


def test_the_exceptions_are_read_from_the_database(empty_db):
    models.WorkdayException.create(date=D(2021, 3, 10), kind="off", note="bầu cử")
    models.WorkdayException.create(date=D(2021, 3, 13), kind="work")
    cal = WorkingDays()
    # Tue 09/03 -> Thu 11 (1), Fri 12 (2), Sat 13 worked (3), Mon 15 (4)
    assert cal.add(D(2021, 3, 9), 4) == D(2021, 3, 15)
    assert cal.between(D(2021, 3, 9), D(2021, 3, 15)) == 4


def test_sixty_working_days_across_tet(cal):
    # the decision deadline after a branch vote on Mon 04/01/2021: January 5-8, 11-15, 18-22,
    # 25-29 = 19; February 1-5, 8-9 = 7 and after Tết 17-19, 22-26 = 8 -> 34; March 23 -> 57;
    # April 1, 2, 5 -> 60: Monday 05/04/2021
    assert cal.add(D(2021, 1, 4), 60) == D(2021, 4, 5)


def test_add_months_clamps_to_the_month_end():
    assert add_months(D(2021, 1, 31), 1) == D(2021, 2, 28)
    assert add_months(D(2020, 1, 31), 1) == D(2020, 2, 29)
    assert add_months(D(2016, 2, 29), 60) == D(2021, 2, 28)  # a certificate's expiry
