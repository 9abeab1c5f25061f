"""A refusal's reason reads in the staff member's language, and stays English for a log."""

from __future__ import annotations

import pytest

from followup.staff_auth import PasswordError, check_new_password
from scheduler import i18n


def test_a_refused_password_says_why_in_danish_and_in_english() -> None:
    with pytest.raises(PasswordError) as refused:
        check_new_password("kort")
    assert str(refused.value) == "the password must have at least 10 characters"
    assert refused.value.text(i18n.texts("da")) == "adgangskoden skal have mindst 10 tegn"
    assert refused.value.text(i18n.texts("en")) == str(refused.value)
