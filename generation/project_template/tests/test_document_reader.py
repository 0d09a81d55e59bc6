def _pdf_with(text):
    """A one-page PDF showing ``text`` (Helvetica), with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _docx_with(paragraphs):
    import io
    import zipfile

    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def test_document_reader_reads_spreadsheets_pdfs_and_word_files_from_data(tmp_path, monkeypatch):
    import openpyxl

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    book = openpyxl.Workbook()
    book.active.title = "Invoices"
    for row in [("invoice", "customer", "days overdue"), ("A-17", "Ada", 45), ("A-18", "Bob", 3)]:
        book.active.append(row)
    book.save(tmp_path / "data" / "invoices.xlsx")
    (tmp_path / "data" / "policy.pdf").write_bytes(_pdf_with("Refunds within 30 days"))
    (tmp_path / "data" / "notes.docx").write_bytes(_docx_with(["Kick-off", "Owner: Ada"]))

    sheet = DocumentReaderTool().run(path="invoices.xlsx")
    assert "Sheet: Invoices" in sheet and "Columns: invoice, customer, days overdue" in sheet
    assert "Rows: 2" in sheet and "A-17, Ada, 45" in sheet
    assert "Refunds within 30 days" in DocumentReaderTool().run(path="policy.pdf")
    assert DocumentReaderTool().run(path="data/notes.docx") == "Kick-off\nOwner: Ada"
    assert "No such file" in DocumentReaderTool().run(path="../pyproject.toml")
    (tmp_path / "data" / "broken.xlsx").write_bytes(b"not a zip")
    assert "Could not read broken.xlsx" in DocumentReaderTool().run(path="broken.xlsx")
