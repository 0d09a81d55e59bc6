MAX_DOCUMENT_CHARS = 40_000  # what one tool answer may bring into the prompt


class DocumentReaderInput(BaseModel):
    """Input schema for DocumentReaderTool."""

    path: str = Field(
        ...,
        description="File name inside the data/ folder: a .xlsx spreadsheet, a .pdf or a "
        ".docx document, e.g. invoices.xlsx.",
    )
    max_rows: int = Field(50, description="Spreadsheets: how many rows of each sheet to include.")


class DocumentReaderTool(BaseTool):
    name: str = "document_reader"
    description: str = (
        "Read a spreadsheet (.xlsx), PDF or Word (.docx) file from the data/ folder as text: "
        "each sheet's columns and rows, or the document's text page by page."
    )
    args_schema: Type[BaseModel] = DocumentReaderInput

    def _run(self, path: str, max_rows: int = 50) -> str:
        base = (Path.cwd() / "data").resolve()
        target = (base / path.removeprefix("data/")).resolve()
        if base not in target.parents or not target.is_file():
            return f"No such file in data/: {path}"
        suffix = target.suffix.lower()
        readers = {".xlsx": _read_xlsx, ".xlsm": _read_xlsx, ".pdf": _read_pdf, ".docx": _read_docx}
        if suffix not in readers:
            return f"Only .xlsx, .pdf and .docx files are read by this tool, not {target.name}"
        try:
            text = readers[suffix](target, max(1, min(max_rows, 500)))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, ElementTree.ParseError) as exc:
            return f"Could not read {target.name} ({exc.__class__.__name__}): is it damaged or password-protected?"
        if len(text) > MAX_DOCUMENT_CHARS:
            text = text[:MAX_DOCUMENT_CHARS] + "\n[... the rest is cut]"
        return text or f"{target.name} has no text (a scanned PDF needs OCR first)."


def _read_xlsx(target: Path, max_rows: int) -> str:
    import openpyxl  # installed with CrewAI (and listed in pyproject.toml)

    book = openpyxl.load_workbook(target, read_only=True, data_only=True)
    lines = []
    try:
        for sheet in book.worksheets:
            rows = [
                ["" if value is None else str(value) for value in row]
                for row in sheet.iter_rows(values_only=True)
            ]
            rows = [row for row in rows if any(cell.strip() for cell in row)]
            if not rows:
                continue
            header, body = rows[0], rows[1:]
            lines += [f"Sheet: {sheet.title}", f"Columns: {', '.join(header)}", f"Rows: {len(body)}"]
            lines += [", ".join(row) for row in body[:max_rows]]
    finally:
        book.close()
    return "\n".join(lines)


def _read_pdf(target: Path, max_rows: int) -> str:
    import pdfplumber  # installed with CrewAI (and listed in pyproject.toml)

    with pdfplumber.open(target) as pdf:
        pages = [(page.extract_text() or "").strip() for page in pdf.pages]
    return "\n\n".join(f"Page {i}:\n{text}" for i, text in enumerate(pages, 1) if text)


def _read_docx(target: Path, max_rows: int) -> str:
    word = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(target) as archive:
        root = ElementTree.fromstring(archive.read("word/document.xml"))
    paragraphs = ("".join(t.text or "" for t in p.iter(word + "t")) for p in root.iter(word + "p"))
    return "\n".join(p for p in paragraphs if p.strip())
