"""Test PDFs made here: text in a TrueType font placed in visual or logical order, and
AES-256 (revision 6) encryption through pypdf with AES from the system's libcrypto (pypdf
needs `cryptography` or `pycryptodome` for AES, neither of which the project installs)."""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _text_object(pdf: pdfium.PdfDocument, font: object, text: str, size: float) -> object:
    obj = pdfium_c.FPDFPageObj_CreateTextObj(pdf.raw, font, size)
    buffer = ctypes.create_string_buffer((text + "\x00").encode("utf-16-le"))
    pdfium_c.FPDFText_SetText(obj, ctypes.cast(buffer, pdfium_c.FPDF_WIDESTRING))
    return obj


def _width(obj: object) -> float:
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top)
    return right.value - left.value


def text_pdf(lines: list[tuple[str, str]], font_file: Path = DEJAVU, size: float = 14) -> bytes:
    """One page; each (text, how) is a line: how="visual" draws the string as one text
    object left to right; how="logical-rtl" draws its characters one object each, from the
    right margin leftwards (a producer writing right-to-left text in logical order)."""
    pdf = pdfium.PdfDocument.new()
    data = font_file.read_bytes()
    cdata = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    font = pdfium_c.FPDFText_LoadFont(pdf.raw, cdata, len(data), pdfium_c.FPDF_FONT_TRUETYPE, 1)
    page = pdf.new_page(420, 300)
    y = 250.0
    for text, how in lines:
        if how == "visual":
            obj = _text_object(pdf, font, text, size)
            pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 40, y)
            pdfium_c.FPDFPage_InsertObject(page.raw, obj)
        else:
            x = 380.0
            for ch in text:
                obj = _text_object(pdf, font, ch, size)
                x -= _width(obj) if ch != " " else size / 2
                pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
                pdfium_c.FPDFPage_InsertObject(page.raw, obj)
        y -= 2 * size
    page.gen_content()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def libcrypto() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
        lib.EVP_aes_256_cbc.restype = ctypes.c_void_p
        lib.EVP_aes_256_ecb.restype = ctypes.c_void_p
        lib.EVP_aes_128_cbc.restype = ctypes.c_void_p
        lib.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
        lib.EVP_CIPHER_CTX_set_padding.argtypes = [ctypes.c_void_p, ctypes.c_int]
        for fn in (lib.EVP_CipherInit_ex,):
            fn.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int]
        lib.EVP_CipherUpdate.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
            ctypes.c_char_p, ctypes.c_int,
        ]  # fmt: skip
        lib.EVP_CipherFinal_ex.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
        ]
    except (OSError, AttributeError):
        return None
    return lib


def _aes(lib: ctypes.CDLL, key: bytes, iv: bytes | None, data: bytes, *, enc: bool,
         pad: bool) -> bytes:  # fmt: skip
    if iv is None:
        cipher = lib.EVP_aes_256_ecb()
    else:
        cipher = lib.EVP_aes_256_cbc() if len(key) == 32 else lib.EVP_aes_128_cbc()
    ctx = lib.EVP_CIPHER_CTX_new()
    try:
        lib.EVP_CipherInit_ex(ctx, cipher, None, key, iv, int(enc))
        lib.EVP_CIPHER_CTX_set_padding(ctx, int(pad))
        out = ctypes.create_string_buffer(len(data) + 32)
        n, tail = ctypes.c_int(0), ctypes.c_int(0)
        lib.EVP_CipherUpdate(ctx, out, ctypes.byref(n), data, len(data))
        end = ctypes.cast(ctypes.addressof(out) + n.value, ctypes.c_char_p)
        lib.EVP_CipherFinal_ex(ctx, end, ctypes.byref(tail))
        return out.raw[: n.value + tail.value]
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)


@contextmanager
def pypdf_aes(lib: ctypes.CDLL) -> Iterator[None]:
    """Give pypdf's encryption module AES functions backed by libcrypto, for the block."""
    from pypdf import _encryption
    from pypdf._crypt_providers._base import CryptBase

    class CryptAES(CryptBase):
        def __init__(self, key: bytes) -> None:
            self.key = key

        def encrypt(self, data: bytes) -> bytes:
            iv = secrets.token_bytes(16)
            return iv + _aes(lib, self.key, iv, data, enc=True, pad=True)

        def decrypt(self, data: bytes, *, strict: bool = True) -> bytes:
            return _aes(lib, self.key, data[:16], data[16:], enc=False, pad=True)

    patched = {
        "CryptAES": CryptAES,
        "aes_cbc_encrypt": lambda k, iv, d: _aes(lib, k, iv, d, enc=True, pad=False),
        "aes_cbc_decrypt": lambda k, iv, d: _aes(lib, k, iv, d, enc=False, pad=False),
        "aes_ecb_encrypt": lambda k, d: _aes(lib, k, None, d, enc=True, pad=False),
        "aes_ecb_decrypt": lambda k, d: _aes(lib, k, None, d, enc=False, pad=False),
    }
    saved = {name: getattr(_encryption, name) for name in patched}
    for name, value in patched.items():
        setattr(_encryption, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(_encryption, name, value)


def encrypt_aes256(data: bytes, user_password: str, lib: ctypes.CDLL) -> bytes:
    """The PDF encrypted with AES-256, security handler revision 6, by pypdf (which stores
    the hash of the password's SASLprep form, as ISO 32000-2 asks)."""
    from pypdf import PdfReader, PdfWriter

    with pypdf_aes(lib):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue()
