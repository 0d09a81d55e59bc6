def test_csv_reader_reads_a_file_from_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sample.csv").write_text("name,score\nAda,5\nBob,3\n", encoding="utf-8")
    result = CsvReaderTool().run(path="sample.csv")
    assert "Columns: name, score" in result and "Rows: 2" in result and "Ada, 5" in result
    assert "No such CSV file" in CsvReaderTool().run(path="../pyproject.toml")
