def test_slack_poster_posts_to_the_webhook(http_double, monkeypatch):
    http_double.routes[("POST", "/hook")] = "ok"
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"http://127.0.0.1:{http_double.server_address[1]}/hook")
    result = SlackWebhookTool().run(text="Hello *team*")
    assert "Posted to Slack" in result
    method, path, _, body = http_double.requests[0]
    assert (method, path) == ("POST", "/hook") and json.loads(body) == {"text": "Hello *team*"}
