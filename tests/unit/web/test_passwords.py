"""The password rules: length, well-known passwords (and their dressed-up forms), the name."""

from __future__ import annotations

import pytest

from services.common.domain.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    WeakPassword,
    check_password,
    common_passwords,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "password",
    [
        "admin-pass-for-tests",
        "correct horse battery",
        "Blue-kettle-on-Tuesday",
        "k7#Qm2!vX9@pL4",
        "Zebra crossing at noon",
    ],
)
def test_a_long_uncommon_password_is_accepted(password):
    check_password(password, "maria")


@pytest.mark.parametrize("length", [0, 1, MIN_PASSWORD_LENGTH - 1])
def test_a_password_shorter_than_twelve_characters_is_refused(length):
    with pytest.raises(WeakPassword, match="at least 12 characters"):
        check_password("k7#Qm2!vX9@pL4wZ"[:length], "maria")


def test_a_password_longer_than_the_bound_is_refused():
    with pytest.raises(WeakPassword, match="at most"):
        check_password("k7#Qm2!vX9@pL4" * 30, "maria")
    check_password(("k7#Qm2!vX9@pL4" * 30)[:MAX_PASSWORD_LENGTH], "maria")


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "PASSWORD1234",
        "qwertyuiop123",
        "123456789012",
        "iloveyou1234",
        "1qaz2wsx3edc",
        "Sunshine2024!",
        "!!Football!!2025",
        "P@ssw0rd1234",
        "letmein!!!!!!",
        "trustno1trustno1",
    ],
)
def test_a_well_known_password_or_a_common_word_with_digits_around_it_is_refused(password):
    with pytest.raises(WeakPassword, match="well-known"):
        check_password(password, "maria")


@pytest.mark.parametrize(
    ("password", "name"),
    [
        ("maria.gonzalez", "maria.gonzalez"),
        ("Maria.Gonzalez", "maria.gonzalez"),
        ("gonzalez-lopez", "maria.gonzalez-lopez"),
        ("maria.gonzalez-1", "maria.gonzalez"),
        ("admin1234567", "admin"),
        ("adminadminadmin", "admin"),
    ],
)
def test_a_password_that_is_the_name_or_little_more_is_refused(password, name):
    with pytest.raises(WeakPassword, match="name"):
        check_password(password, name)


def test_the_name_may_be_part_of_a_password_that_is_long_enough_without_it():
    check_password("admin-pass-for-tests", "admin")


def test_a_password_of_one_repeated_character_is_refused():
    with pytest.raises(WeakPassword, match="different characters"):
        check_password("zzzzzzzzzzzzzzzz", "maria")


def test_the_common_password_list_holds_thousands_of_lower_case_entries():
    known = common_passwords()
    assert len(known) > 3000
    assert all(entry == entry.casefold() and entry == entry.strip() for entry in known)
    assert {"password", "qwerty", "letmein", "password123456"} <= known
