"""The one-go hex-string reader answers exactly as pyHanko's own, and is what pyHanko uses."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError

from zhenglian.pdf import hexfix

hexfix.apply()
FAST = generic.read_hex_string_from_stream
SLOW = FAST.__closure__ and next(c.cell_contents for c in FAST.__closure__
                                 if getattr(c.cell_contents, "__name__", "") == "read_hex_string_from_stream")

CASES = [
    b"<>",
    b"<48656C6C6F> rest",
    b"<48656c6c6f>",
    b"<4 8 65\n6C\r\n6C\t6F\x0c\x00>tail",
    b"<486>",  # odd: the last digit is followed by 0
    b"<" + b"3082" * 20000 + b"0" * 40000 + b">/Filter",  # a signature's /Contents
    b"<48 % a comment > with an angle\n65>",  # a comment: pyHanko's reader
    b"<48 6G>",  # not a hex digit
    b"<4865",  # no end
    b"<48><65>",
]


def _read(reader, data: bytes, at: int = 0):
    stream = io.BytesIO(b"xx" + data)
    stream.seek(2 + at)
    try:
        value = reader(stream)
    except PdfError as exc:
        return ("error", type(exc), stream.tell())
    return (bytes(value.original_bytes), type(value), stream.tell())


def test_patched_reader_is_in_place_and_idempotent():
    assert getattr(generic.read_hex_string_from_stream, "_zhenglian_hex_in_one_go", False)
    hexfix.apply()
    assert generic.read_hex_string_from_stream is FAST
    assert SLOW is not None and not getattr(SLOW, "_zhenglian_hex_in_one_go", False)


@pytest.mark.parametrize("data", CASES)
def test_same_value_type_position_and_error_as_pyhanko(data):
    assert _read(FAST, data) == _read(SLOW, data)


def test_open_pdf_reads_hex_strings_through_it(monkeypatch):
    from helpers.pdf import raw_pdf, simple_page_objects

    from zhenglian.pdf.document import open_pdf

    blob = bytes(range(256)) * 40  # as long as a signature's /Contents
    data = raw_pdf({1: "<< /Type /Catalog /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    **simple_page_objects(), 6: b"<< /Blob <" + blob.hex().encode() + b"> >>"}, info=6)
    calls = []

    def counting(stream):
        calls.append(stream.tell())
        return FAST(stream)

    monkeypatch.setattr(generic, "read_hex_string_from_stream", counting)
    monkeypatch.setattr(hexfix, "apply", lambda: None)  # keep the counting wrapper in place
    with open_pdf(data, name="blob.pdf") as doc:
        assert bytes(doc.reader.trailer["/Info"]["/Blob"].original_bytes) == blob
    assert calls
