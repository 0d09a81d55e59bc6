def test_github_issues_are_listed_from_the_api(http_double, monkeypatch):
    http_double.routes[("GET", "/repos/acme/app/issues")] = [
        {"number": 7, "title": "Crash on save", "labels": [], "user": {"login": "ada"}, "body": "Stack trace"},
        {"number": 8, "title": "A PR", "pull_request": {}, "labels": [], "user": {"login": "bob"}},
    ]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{http_double.server_address[1]}")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    result = GitHubIssuesTool().run(state="open")
    assert "#7 Crash on save" in result and "A PR" not in result
    _, _, headers, _ = http_double.requests[0]
    assert headers.get("Authorization") == "Bearer test-token"
