def test_github_labels_are_added_through_the_api(http_double, monkeypatch):
    http_double.routes[("POST", "/repos/acme/app/issues/7/labels")] = [{"name": "bug"}, {"name": "p1"}]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{http_double.server_address[1]}")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
    result = GitHubLabelTool().run(issue_number=7, labels=["bug", "p1"])
    assert "bug, p1" in result
    _, path, _, body = http_double.requests[0]
    assert path == "/repos/acme/app/issues/7/labels" and json.loads(body) == {"labels": ["bug", "p1"]}
