"""The one CSV writer: text a spreadsheet would run as a formula is written as text; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from core import csvfile


@pytest.mark.parametrize("cell", ["=1+1", "=HYPERLINK(\"http://x\",\"y\")", "+A1", "-2+3", "@SUM(A1)", "\tX", "\rX",
                                  "-", "+", "=", "-inf", "-nan"])
def test_formula_like_text_is_prefixed_with_an_apostrophe(cell):
    assert csvfile.safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", [-1.5, -3, 0, 12.25, None, "-1.5", "+7", "-0.0001", "1e-05", "-2E+3", "005930",
                                  "삼성전자", "", "a=b", "2024-01-05"])
def test_numbers_and_plain_text_pass_as_they_are(cell):
    assert csvfile.safe_cell(cell) == cell


def test_a_whole_file_has_the_bom_and_safe_rows():
    data = csvfile.csv_bytes(["name", "ret"], [["=cmd", -1.25], ["삼성전자", "-0.5"]]).decode("utf-8")
    assert data.startswith(csvfile.BOM)
    rows = list(csv.reader(io.StringIO(data.lstrip(csvfile.BOM))))
    assert rows == [["name", "ret"], ["'=cmd", "-1.25"], ["삼성전자", "-0.5"]]
