class CsvReaderInput(BaseModel):
    """Input schema for CsvReaderTool."""

    path: str = Field(..., description="CSV file name inside the data/ folder, e.g. leads.csv.")
    max_rows: int = Field(50, description="How many rows to include.")


class CsvReaderTool(BaseTool):
    name: str = "csv_reader"
    description: str = "Read a CSV file from the data/ folder: columns, row count and rows."
    args_schema: Type[BaseModel] = CsvReaderInput

    def _run(self, path: str, max_rows: int = 50) -> str:
        base = (Path.cwd() / "data").resolve()
        target = (base / path.removeprefix("data/")).resolve()
        if base not in target.parents or not target.is_file():
            return f"No such CSV file in data/: {path}"
        with target.open(newline="", encoding="utf-8", errors="replace") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            return "The file is empty."
        header, body = rows[0], rows[1:]
        lines = [f"Columns: {', '.join(header)}", f"Rows: {len(body)}"]
        lines += [", ".join(row) for row in body[: max(1, min(max_rows, 500))]]
        return "\n".join(lines)
